"""The view of a consultation that every report template reads (one place, every format).

:func:`report_view` turns a :class:`~haircare_expert.model.Consultation` into plain data in the
order the report prints it: the client, a summary, referrals and warnings, recommendations each
paired with its how-to advice, the week, the wash-day order, notes, conflicts, the knowledge
base, the disclaimer and an audit appendix. The templates only lay it out; every decision
(pairing, wording of facts and sources, numbering) is made here, once, for all formats.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from haircare_expert.audit.wording import clean, join_words
from haircare_expert.consult.schedule import calendar_notes, wash_days
from haircare_expert.knowledge.analysis import declared_by, firings_of
from haircare_expert.knowledge.conditions import Pattern, Var
from haircare_expert.model import UNKNOWN, WEEKDAYS, Advice, Consultation, Fact, Firing
from haircare_expert.render.wording import (  # noqa: F401  (re-exported: the old home of these names)
    FIELD_LABELS,
    describe_fact,
    field_label,
    field_value,
    label,
    origin_words,
    words,
)

KIND_HEADINGS = {
    "referral": "See a doctor first",
    "warning": "Change these habits",
    "recommendation": "What to use",
    "how-to": "How to use it",
    "schedule": "When to use it",
    "note": "Good to know",
}
#: The label printed on each advice block: words, so the meaning never rests on colour alone.
KIND_LABELS = {
    "referral": "See a doctor",
    "warning": "Warning",
    "recommendation": "Recommended",
    "how-to": "How to",
    "schedule": "Timing",
    "note": "Note",
}
DAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                "Saturday", "Sunday")))
FINDING_TYPES = ("red-flag", "scalp-state", "hair-state", "need")
#: The publisher printed for a source published by a product brand: reports name product types,
#: never brands (the catalogue and the JSON keep the real publisher).
BRAND_PUBLISHER = "a hair-care brand's blog"
NOT_GIVEN = "(not given)"


def _short_label(fact_type: str, name: str) -> str:
    """A field label without its fact type (the row already names it): ``hair type`` -> ``type``."""
    label = field_label(fact_type, name)
    prefix = fact_type.replace("-", " ") + " "
    return label[len(prefix):] if label.startswith(prefix) else label


def _in_words(vocabulary, fact_type: str, name: str, value: Any) -> str:
    """A client's value in the vocabulary's words (``mid_lengths`` -> ``mid-lengths``), with its
    unit where it is a count; without a vocabulary, :func:`field_value`."""
    if vocabulary is None or (isinstance(value, int) and not isinstance(value, bool)) or value == UNKNOWN:
        return field_value(name, value)
    if isinstance(value, (tuple, list)) and not value:
        return "none"
    return label(f"{fact_type}.{name}", value, vocabulary)


def _told(facts: list[Fact], vocabulary=None) -> list[dict]:
    """What the client told us, one short line per profile section."""
    rows: list[dict] = []
    routine: list[str] = []
    for fact in facts:
        if not fact.origin.startswith("profile:"):
            continue
        fields = {k: v for k, v in fact.fields.items() if k != "entry"}
        if fact.type == "uses":
            extra = [f"{field_label('uses', k)}: {_in_words(vocabulary, 'uses', k, v)}" for k, v in fields.items()
                     if k in ("applied_to", "per_week", "reactions") and v not in ((), None)]
            product = _in_words(vocabulary, "uses", "product", fields.get("product", "product"))
            routine.append(product + (f" ({'; '.join(extra)})" if extra else ""))
            continue
        if fact.type == "goals":
            value = _in_words(vocabulary, "goals", "wanted", fields.get("wanted", ()))
        else:
            value = "; ".join(f"{_short_label(fact.type, k)}: {_in_words(vocabulary, fact.type, k, v)}"
                              for k, v in fields.items())
        if value:
            rows.append({"label": fact.type.replace("-", " ").capitalize(), "value": value})
    if routine:
        rows.append({"label": "Routine", "value": "; ".join(routine)})
    return rows


class _Sources:
    """Source references in words, with titles from the rulebook's catalogue when it is known."""

    def __init__(self, rulebook):
        self.catalogue = getattr(rulebook, "sources", None) or {}
        self.cited: dict[str, Any] = {}

    def title(self, source_id: str) -> str:
        entry = self.catalogue.get(source_id)
        return entry.title if entry is not None and entry.title else source_id

    def ref(self, ref: dict) -> dict:
        if ref.get("own"):
            note = " ".join(str(ref.get("note", "")).split()).rstrip(".")
            return {"id": "own", "title": "Our own guidance", "section": note,
                    "text": "Our own guidance" + (f": {note}" if note else ""),
                    "short": "own guidance"}
        sid = str(ref.get("source", ""))
        section = str(ref.get("section", ""))
        self.cited.setdefault(sid, self.catalogue.get(sid))
        title = self.title(sid)
        text = f"{title}, section \u201c{section}\u201d" if section else title
        return {"id": sid, "title": title, "section": section, "text": text,
                "short": f"{sid} \u00a7 {section}" if section else sid}

    def grouped(self, refs: list[dict]) -> list[dict]:
        """References of one advice line, one item per source with all its sections cited."""
        groups: list[dict] = []
        by_id: dict[str, dict] = {}
        for ref in refs:
            item = self.ref(ref)
            if item["id"] == "own":
                groups.append({**item, "sections": [item["section"]] if item["section"] else []})
                continue
            group = by_id.get(item["id"])
            if group is None:
                group = by_id[item["id"]] = {**item, "sections": []}
                groups.append(group)
            if item["section"] and item["section"] not in group["sections"]:
                group["sections"].append(item["section"])
        for group in groups:
            if group["id"] != "own" and group["sections"]:
                quoted = [f"\u201c{sec}\u201d" for sec in group["sections"]]
                label = "section" if len(quoted) == 1 else "sections"
                group["text"] = f"{group['title']}, {label} {join_words(quoted)}"
                group["short"] = f"{group['id']}: " + ", ".join(quoted)
        return groups

    def listing(self) -> list[dict]:
        out = []
        for sid in sorted(self.cited):
            entry = self.cited[sid]
            out.append({"id": sid, "title": self.title(sid),
                        "publisher": client_publisher(getattr(entry, "publisher", "") or ""),
                        "url": getattr(entry, "url", "") or ""})
        return out


def _recommended_facts(advice: Advice, firings: list[Firing], facts: dict[str, Fact],
                       by_key: dict, rule) -> set[str]:
    """The ``recommend`` facts a recommendation declared (from the trace, or by content when an
    equal fact was declared earlier by another rule and so merged)."""
    ids = {fid for f in firings for fid in f.declared if fid in facts and facts[fid].type == "recommend"}
    if rule is not None:
        for firing in firings:
            for decl in rule.declare:
                if decl.type != "recommend":
                    continue
                fields = {name: (firing.bindings.get(value.name) if isinstance(value, Var) else value)
                          for name, value in decl.fields}
                fid = by_key.get(Fact(decl.type, fields, "").key())
                if fid:
                    ids.add(fid)
    return ids


def _tested_fields(rule, firing: Firing) -> list[set[str] | None]:
    """For each fact a firing matched, the fields its pattern tested (None when unknown)."""
    if rule is None:
        return [None] * len(firing.facts)
    try:
        variant = rule.variants()[firing.variant]
    except (IndexError, AttributeError):
        return [None] * len(firing.facts)
    patterns = [c for c in variant if isinstance(c, Pattern)]
    out: list[set[str] | None] = []
    for i in range(len(firing.facts)):
        if i < len(patterns):
            out.append({t.field for t in patterns[i].tests} or None)
        else:
            out.append(None)
    return out


class _Chain:
    """Describes a matched fact; a concluded fact also names the answers it rests on."""

    def __init__(self, facts: dict[str, Fact], trace: list[Firing], rules: dict):
        self.facts = facts
        self.rules = rules
        self.by_declared = {fid: firings[0] for fid, firings in declared_by(trace).items()}
        self._roots: dict[str, list[tuple[str, Any]]] = {}

    def roots(self, fid: str, active: frozenset = frozenset()) -> list[tuple[str, Any]]:
        """The client answers (fact id, fields tested) a concluded fact was derived from."""
        if fid in self._roots:
            return self._roots[fid]
        firing = self.by_declared.get(fid)
        if firing is None or fid in active:
            return []
        found: list[tuple[str, Any]] = []
        tested = _tested_fields(self.rules.get(firing.rule), firing)
        for child, only in zip(firing.facts, tested):
            fact = self.facts.get(child)
            if fact is None:
                continue
            if fact.origin.startswith("profile:"):
                pairs = [(child, only)]
            else:
                pairs = self.roots(child, active | {fid})
            for pair in pairs:
                if pair[0] not in [p[0] for p in found]:
                    found.append(pair)
        self._roots[fid] = found
        return found

    def answers(self, fids: list[str]) -> list[str]:
        """The client answers behind the concluded facts among ``fids``, each named once."""
        direct = set(fids)
        out: list[str] = []
        seen: set[str] = set()
        for fid in fids:
            if not self.facts[fid].origin.startswith("rule:"):
                continue
            for root, only in self.roots(fid):
                if root in direct or root in seen:
                    continue
                seen.add(root)
                out.append(describe_fact(self.facts[root], only))
        return out


def report_view(c: Consultation, rulebook=None) -> dict:
    """Everything the templates show, ready to print (no logic left for the templates).

    ``rulebook`` (default: the one that produced the consultation) supplies source titles and
    the fields each rule tested; without it, source ids and whole facts are shown instead.
    """
    rulebook = rulebook if rulebook is not None else c.rulebook
    rules = getattr(rulebook, "by_id", {}) or {}
    vocabulary = getattr(rulebook, "vocabulary", None)
    sources = _Sources(rulebook)
    blocks = _advice_blocks(c, rules, sources)
    kb = dict(c.knowledge_base)
    fingerprint = str(kb.get("fingerprint", ""))
    custom = kb.get("custom") or {}
    conflicts = _conflicts(c, sources)
    client = {k: (clean(c.client.get(k) or "") or NOT_GIVEN) for k in ("name", "consultant", "date")}
    return {
        "c": c,
        "client": client,
        "told": _told(c.facts, vocabulary),
        "kb": {"version": kb.get("version", ""), "fingerprint": fingerprint,
               "short_fingerprint": fingerprint[:19], "rules": kb.get("rules", 0),
               "custom": bool(custom), "custom_lines": _custom_lines(custom)},
        "summary": _summary(c, vocabulary),
        "alerts": blocks.alerts,
        "recommendations": blocks.recommendations,
        "other_howtos": blocks.other_howtos,
        "timing": blocks.timing,
        "notes": blocks.notes,
        "printed": blocks.printed,
        **_week(c, rules),
        "plan": [{"step": p.step, "action": clean(p.action), "item": clean(p.item),
                  "start_week": p.start_week, "new": p.new, "rule": clean(p.rule), "why": clean(p.why)}
                 for p in sorted(c.plan, key=lambda p: p.step)],
        "wash_day_order": list(c.wash_day_order),
        "conflicts": conflicts,
        "cited_sources": sources.listing(),
        "disclaimer": " ".join(clean(n["text"]) for n in blocks.disclaimer_notes) or shipped_disclaimer(),
        "headings": KIND_HEADINGS,
    }


@dataclass
class _Blocks:
    """The advice as printed: by section, and in one numbered order."""

    alerts: list[dict]
    recommendations: list[dict]         #: each with the how-to advice that goes with it
    other_howtos: list[dict]
    timing: list[dict]
    notes: list[dict]
    disclaimer_notes: list[dict]        #: printed as the disclaimer, not as notes
    printed: list[dict]


def _advice_blocks(c: Consultation, rules: dict, sources: _Sources) -> _Blocks:
    """Every advice line as a block, sorted into its section and numbered in printed order."""
    facts = {f.id: f for f in c.facts}
    chain = _Chain(facts, c.trace, rules)
    entries = {id(a): _entry(a, c, rules, facts, sources, chain) for a in c.advice}

    def of_kind(*kinds: str) -> list[dict]:
        return [entries[id(a)] for a in c.advice if a.kind in kinds]

    alerts, recs, howtos = of_kind("referral", "warning"), of_kind("recommendation"), of_kind("how-to")
    # Known kinds only above; anything else (a future kind) is printed with the notes.
    notes = of_kind("note") + [entries[id(a)] for a in c.advice if a.kind not in KIND_LABELS]
    other_howtos = _pair_howtos(c, recs, howtos, facts, rules)
    # Notes tagged `disclaimer` are folded into the disclaimer printed at the end (without the
    # rulebook, the shipped disclaimer rule is known by its id).
    disclaimer_notes = [n for n in notes if "disclaimer" in getattr(rules.get(n["rule"]), "tags", ())
                        or (not rules and n["rule"] == "cosmetic-advice-disclaimer")]
    notes = [n for n in notes if n not in disclaimer_notes]
    for n in disclaimer_notes:
        n["shown_as"] = "printed as the disclaimer"
    timing = of_kind("schedule")
    printed = list(alerts)
    for rec in recs:
        printed.append(rec)
        printed.extend(rec["howtos"])
    printed += other_howtos + timing + notes + disclaimer_notes
    for number, e in enumerate(printed, 1):
        e["n"] = number
    return _Blocks(alerts, recs, other_howtos, timing, notes, disclaimer_notes, printed)


def _entry(a: Advice, c: Consultation, rules: dict, facts: dict[str, Fact], sources: _Sources,
           chain: _Chain) -> dict:
    """One advice line with its rule, the facts it matched in words, the client answers behind
    them and its sources (numbered later, in the order it is printed)."""
    rule = rules.get(a.rule)
    matched: list[str] = []
    seen: list[str] = []
    for firing in firings_of(c.trace, a.rule, a.matched_facts):
        for fid, only in zip(firing.facts, _tested_fields(rule, firing)):
            if fid in seen or fid not in facts:
                continue
            seen.append(fid)
            matched.append(describe_fact(facts[fid], only))
    origin = getattr(rule, "origin", "shipped")
    return {"n": 0, "kind": a.kind, "label": KIND_LABELS.get(a.kind, a.kind),
            "rule": a.rule, "title": a.title, "text": a.text, "steps": list(a.steps),
            "because": a.because, "sources": [sources.ref(s) for s in a.sources],
            "source_groups": sources.grouped(a.sources), "answers": chain.answers(seen),
            "matched": matched, "origin": origin,
            "origin_note": {"custom": "custom rule", "override": "custom rule replacing a shipped one"}.get(origin, ""),
            "howtos": [], "shown_as": "", "advice": a}


def _pair_howtos(c: Consultation, recs: list[dict], howtos: list[dict], facts: dict[str, Fact],
                 rules: dict) -> list[dict]:
    """Pair each recommendation with the how-to advice that matched the fact it declared;
    return the how-to advice paired with none."""
    by_key = {f.key(): f.id for f in c.facts}
    claimed: set[int] = set()
    for rec in recs:
        a = rec["advice"]
        declared = _recommended_facts(a, firings_of(c.trace, a.rule, a.matched_facts), facts, by_key, rules.get(a.rule))
        if not declared:
            continue
        for how in howtos:
            if id(how) in claimed:
                continue
            if declared & set(how["advice"].matched_facts):
                rec["howtos"].append(how)
                claimed.add(id(how))
    return [h for h in howtos if id(h) not in claimed]


def _summary(c: Consultation, vocabulary) -> list[str]:
    """The report's opening lines: what was found, what was missing, what the report holds."""
    findings: dict[str, list[str]] = {}
    for fact in c.facts:
        if fact.type in FINDING_TYPES:
            value = next(iter(fact.fields.values()), "")
            findings.setdefault(fact.type, []).append(label(fact.type, value, vocabulary))
    summary = []
    if findings.get("red-flag"):
        summary.append("Signs that need a doctor: " + ", ".join(findings["red-flag"]) + ".")
    if findings.get("scalp-state"):
        summary.append("Scalp: " + ", ".join(findings["scalp-state"]) + ".")
    if findings.get("hair-state"):
        summary.append("Hair: " + ", ".join(findings["hair-state"]) + ".")
    if findings.get("need"):
        summary.append("Your routine needs: " + ", ".join(findings["need"]) + ".")
    missing = _missing_answers(c.facts)
    if missing:
        summary.append("Some answers were missing (" + join_words(missing) + "), so this report "
                       "could not check everything; see the first warning.")
    elif not summary:
        summary.append("Nothing in your answers calls for a change of routine.")
    counts = []
    for kind, one, many in (("referral", "referral to a doctor", "referrals to a doctor"),
                            ("warning", "habit to change", "habits to change"),
                            ("recommendation", "product or practice to add", "products or practices to add")):
        n = sum(1 for a in c.advice if a.kind == kind)
        if n:
            counts.append(f"{n} {one if n == 1 else many}")
    if counts:
        summary.append("This report has " + join_words(counts) + ".")
    return summary


def _week(c: Consultation, rules: dict) -> dict:
    """The week: each day with what to use and whether it is a wash day, and the notes on what
    the week could not place."""
    habits = next((f for f in c.facts if f.type == "habits"), None)
    washes = habits.fields.get("washes_per_week") if habits else None
    heat = habits.fields.get("heat_styling_per_week") if habits else None
    known = isinstance(washes, int) and not isinstance(washes, bool)
    wash = set(wash_days(washes))
    week = [{"key": d, "name": DAY_NAMES[d], "short": DAY_NAMES[d][:3],
             "items": list(c.schedule.get(d, [])), "wash": i in wash}
            for i, d in enumerate(WEEKDAYS)]
    if known:
        wash_note = f"Wash days are spread over the week for {washes} wash{'es' if washes != 1 else ''} a week."
    else:
        wash_note = "You did not say how often you wash, so no wash days are marked."
    # What the week could not place (its days depend on a count the client did not give).
    entries = [entry for firing in c.trace for entry in getattr(rules.get(firing.rule), "schedule", ())]
    return {"week": week, "has_schedule": any(c.schedule.get(d) for d in WEEKDAYS),
            "wash_note": wash_note, "wash_known": known,
            "week_notes": calendar_notes(entries, washes, heat)}


def _custom_lines(custom: dict) -> list[str]:
    """The custom rule folders behind a consultation, and what they added or replaced."""
    lines = []
    if custom:
        folders = custom.get("folders") or []
        if folders:
            lines.append("Custom rule folder(s): " + ", ".join(map(str, folders)) + ".")
        if custom.get("added"):
            lines.append("Rules added by the custom folder(s): " + ", ".join(custom["added"]) + ".")
        if custom.get("overrides"):
            lines.append("Shipped rules replaced by custom ones: " + ", ".join(custom["overrides"]) + ".")
    return lines


def _conflicts(c: Consultation, sources: _Sources) -> list[dict]:
    """Where the sources disagree and how the rules settle it (their sources count as cited)."""
    for x in c.conflicts:
        for sid in x.sources:
            sources.cited.setdefault(sid, sources.catalogue.get(sid))
    return [{"topic": x.topic, "sources": [sources.title(s) for s in x.sources],
             "source_ids": list(x.sources), "resolution": x.resolution, "rule": x.rule}
            for x in c.conflicts]


@functools.lru_cache(maxsize=1)
def shipped_disclaimer() -> str:
    """The shipped disclaimer rule's text: the one disclaimer, printed even by a report whose
    rules gave none (a consultant's own rule folder that replaced it, a test knowledge base)."""
    from haircare_expert import yamlio
    from haircare_expert.errors import RuleError
    rule = yamlio.loads((yamlio.package_files("rules") / "general" / "disclaimer.yaml").read_text(encoding="utf-8"),
                        "rules/general/disclaimer.yaml", RuleError)
    return " ".join(rule["then"]["advise"].split())


def _missing_answers(facts: list[Fact]) -> list[str]:
    """What the client left unanswered that could hide a warning sign, in words."""
    missing = []
    scalp = next((f for f in facts if f.type == "scalp"), None)
    if scalp is None or scalp.fields.get("symptoms", UNKNOWN) == UNKNOWN:
        missing.append("what you notice on your scalp")
    if any(f.type == "uses" and f.fields.get("reactions") == UNKNOWN for f in facts):
        missing.append("reactions to a product you use")
    return missing


def client_publisher(publisher: str) -> str:
    """The publisher as a client-facing report prints it: a brand's blog is named generically."""
    return BRAND_PUBLISHER if "brand" in publisher.lower() else publisher
