"""Replay an audit record against the current rules: ``haircare replay RECORD.json``.

The JSON report (``haircare advise PROFILE --format json``) is the audit record: it holds the
knowledge-base version, fingerprint and per-rule content hashes, the input facts (origin
``profile:...``), the advice and the firing trace. :func:`replay` re-runs the recorded input
through the current rules and says which advice was added, removed or changed, which rules were
added, removed or edited since, and which of those edits lie in the derivation of each changed
line (from the old and the new trace). A knowledge-base CI job can fail on any change.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import ProfileError
from haircare_expert.model import WEEKDAYS, Consultation, Fact

SCHEMA = "haircare-replay/1"
RECORD_SCHEMA = "haircare-advice/1"
#: The parts of an advice line compared between the record and the replay.
ADVICE_FIELDS = ("kind", "title", "text", "steps", "because", "sources")


@dataclass
class AdviceChange:
    """One advice line added, removed or changed, and the rule edits behind it."""

    change: str                   # added | removed | changed
    rule: str
    kind: str
    title: str
    old: dict | None
    new: dict | None
    fields: list[str]             # for a changed line: which parts differ
    caused_by: list[str]          # changed rules in its derivation (old or new)

    def to_json(self) -> dict:
        data = {"change": self.change, "rule": self.rule, "kind": self.kind, "title": self.title,
                "caused_by": list(self.caused_by)}
        if self.change == "changed":
            data["fields"] = {f: {"old": self.old.get(f), "new": self.new.get(f)} for f in self.fields}
        else:
            item = self.new if self.change == "added" else self.old
            data.update({"text": item.get("text"), "steps": item.get("steps", [])})
        return data


@dataclass
class PartChange:
    """A change in the schedule, the wash-day order or the conflicts."""

    part: str
    old: Any
    new: Any

    def to_json(self) -> dict:
        return {"part": self.part, "old": self.old, "new": self.new}


@dataclass
class Replay:
    """The outcome of replaying one record: rule changes and advice changes."""

    record: str
    old_kb: dict
    new_kb: dict
    rules_added: list[str]
    rules_removed: list[str]
    rules_edited: list[str]
    advice: list[AdviceChange] = field(default_factory=list)
    parts: list[PartChange] = field(default_factory=list)
    no_longer_fire: list[str] = field(default_factory=list)   # fired in the record, not now
    now_fire: list[str] = field(default_factory=list)         # fire now, not in the record
    consultation: Consultation | None = None

    @property
    def changed(self) -> bool:
        return bool(self.advice or self.parts)

    def rule_change(self, rule_id: str) -> str:
        if rule_id in self.rules_added:
            return "added"
        if rule_id in self.rules_removed:
            return "removed"
        return "edited"

    def to_json(self) -> dict:
        def kb(info):
            return {k: info.get(k) for k in ("version", "fingerprint", "rules")}
        return {"schema": SCHEMA, "record": self.record, "changed": self.changed,
                "knowledge_base": {"recorded": kb(self.old_kb), "current": kb(self.new_kb)},
                "rules": {"added": self.rules_added, "removed": self.rules_removed,
                          "edited": self.rules_edited},
                "advice": [a.to_json() for a in self.advice],
                "other": [p.to_json() for p in self.parts],
                "firings": {"no_longer_fire": self.no_longer_fire, "now_fire": self.now_fire}}


# -- reading a record -------------------------------------------------------------------------
def load_record(path: str | Path) -> dict:
    """Read an audit record (JSON or YAML) and check its shape; raise ProfileError if malformed."""
    data = yamlio.load_file(path, ProfileError)
    check_record(data, str(path))
    return data


def check_record(data: Any, where: str) -> None:
    """Raise :class:`ProfileError` naming the first part of ``data`` that is not a record."""
    def bad(what: str):
        return ProfileError(where, f"not a usable audit record: {what} (write one with "
                                   "'haircare advise PROFILE --format json')")

    if not isinstance(data, dict):
        raise bad("expected a JSON object")
    if data.get("schema") != RECORD_SCHEMA:
        raise bad(f"schema is {data.get('schema')!r}, expected {RECORD_SCHEMA!r}")
    for key, kind in (("client", dict), ("knowledge_base", dict), ("advice", list),
                      ("facts", list), ("trace", list)):
        if not isinstance(data.get(key), kind):
            raise bad(f"'{key}' is missing or not a {'list' if kind is list else 'mapping'}")
    hashes = data["knowledge_base"].get("rule_hashes")
    if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
        raise bad("'knowledge_base.rule_hashes' is missing (the per-rule content hashes)")
    for i, fact in enumerate(data["facts"]):
        if (not isinstance(fact, dict) or not isinstance(fact.get("type"), str)
                or not isinstance(fact.get("fields"), dict) or not isinstance(fact.get("origin"), str)
                or not isinstance(fact.get("id"), str)):
            raise bad(f"facts[{i}] needs id, type, fields (a mapping) and origin")
    for i, item in enumerate(data["advice"]):
        if not isinstance(item, dict) or not isinstance(item.get("rule"), str) or "text" not in item:
            raise bad(f"advice[{i}] needs at least rule and text")
        for key in ("matched_facts", "steps"):
            if not _texts(item.get(key, [])):
                raise bad(f"advice[{i}].{key} must be a list of texts")
        for key in ("kind", "title"):
            if not isinstance(item.get(key, ""), str):
                raise bad(f"advice[{i}].{key} must be text")
    schedule = data.get("schedule", {})
    if not isinstance(schedule, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in schedule.values()):
        raise bad("'schedule' must map each day to a list of texts")
    for key in ("wash_day_order", "conflicts"):
        if not isinstance(data.get(key, []), list):
            raise bad(f"'{key}' must be a list")
    if not _texts(data.get("wash_day_order", [])):
        raise bad("'wash_day_order' must be a list of texts")
    for i, step in enumerate(data["trace"]):
        if (not isinstance(step, dict) or not isinstance(step.get("rule"), str)
                or not isinstance(step.get("facts"), list) or not isinstance(step.get("declared"), list)):
            raise bad(f"trace[{i}] needs rule, facts and declared")
        for key in ("facts", "declared"):
            if not _texts(step[key]):
                raise bad(f"trace[{i}].{key} must be a list of fact ids")


def _texts(value: Any) -> bool:
    """A list of strings (what fact-id lists and steps are in a record)."""
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def record_input(record: dict, vocabulary, where: str = "record") -> tuple[dict, list[Fact]]:
    """The client block and the input facts (origin ``profile:...``) of a record, re-checked."""
    facts = []
    for i, raw in enumerate(record["facts"]):
        if not raw["origin"].startswith("profile:"):
            continue
        ftype = vocabulary.types.get(raw["type"])
        path = f"facts[{i}] ({raw['id']})"
        if ftype is None or ftype.derived:
            raise ProfileError(where, f"{path}: {raw['type']!r} is not an input fact type of the "
                                      "current vocabulary")
        fields = {}
        for name, value in raw["fields"].items():
            spec = ftype.fields.get(name)
            if spec is None:
                raise ProfileError(where, f"{path}: {raw['type']} has no field {name!r} in the "
                                          f"current vocabulary; fields: {', '.join(ftype.fields)}")
            fields[name] = spec.normalise(value, where, f"{path}.{name}")
        facts.append(Fact(raw["type"], fields, raw["origin"]))
    client = {k: v for k, v in record["client"].items() if isinstance(v, str)}
    return client, facts


# -- derivation chains ------------------------------------------------------------------------
def _chain(trace: list[tuple[str, list[str], list[str]]], starts: Iterable[int]) -> set[str]:
    """The rules of the given firings and, recursively, of the firings that declared their facts."""
    declared_by = {}
    for index, (_, _, declared) in enumerate(trace):
        for fid in declared:
            declared_by.setdefault(fid, index)
    rules, todo, seen = set(), list(starts), set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        rule, facts, _ = trace[index]
        rules.add(rule)
        todo.extend(declared_by[f] for f in facts if f in declared_by)
    return rules


def _firings_of(trace, rule: str, matched: Iterable[str]) -> list[int]:
    matched = set(matched)
    hits = [i for i, (r, facts, _) in enumerate(trace) if r == rule and set(facts) <= matched]
    return hits or [i for i, (r, _, _) in enumerate(trace) if r == rule]


# -- the replay -------------------------------------------------------------------------------
def replay(record: dict, advisor, where: str = "record") -> Replay:
    """Re-run ``record``'s input through ``advisor``'s rules and compare the outcomes."""
    check_record(record, where)
    client, facts = record_input(record, advisor.vocabulary, where)
    new = advisor.consult_facts(client, facts)
    new_json = new.to_json()
    old_hashes = record["knowledge_base"]["rule_hashes"]
    new_hashes = new.knowledge_base.get("rule_hashes", {})
    result = Replay(
        record=where, old_kb=dict(record["knowledge_base"]), new_kb=dict(new.knowledge_base),
        rules_added=sorted(set(new_hashes) - set(old_hashes)),
        rules_removed=sorted(set(old_hashes) - set(new_hashes)),
        rules_edited=sorted(r for r in set(old_hashes) & set(new_hashes) if old_hashes[r] != new_hashes[r]),
        consultation=new)
    changed_rules = set(result.rules_added) | set(result.rules_removed) | set(result.rules_edited)

    old_trace = [(t["rule"], list(t["facts"]), list(t["declared"])) for t in record["trace"]]
    new_trace = [(t.rule, list(t.facts), list(t.declared)) for t in new.trace]
    old_types = {f["id"]: f["type"] for f in record["facts"]}

    def causes(old: dict | None, new_item: dict | None) -> list[str]:
        rules: set[str] = set()
        if old is not None:
            rules |= _chain(old_trace, _firings_of(old_trace, old["rule"], old.get("matched_facts", [])))
        if new_item is not None:
            rules |= _chain(new_trace, _firings_of(new_trace, new_item["rule"], new_item.get("matched_facts", [])))
        # Negations: a changed rule whose (old or new) conclusion a rule of the chain negates.
        negated = set()
        for rid in rules:
            rule = advisor.rulebook.by_id.get(rid)
            if rule is not None:
                negated |= rule.negated_types()
        for rid, _, declared in old_trace:
            if any(old_types.get(f) in negated for f in declared):
                rules.add(rid)
        for rid, _, declared in new_trace:
            if any(new.fact(f).type in negated for f in declared):
                rules.add(rid)
        if new_item is None and old is not None and old["rule"] in advisor.rulebook.by_id:
            rules |= _blockers(new, advisor.rulebook, old["rule"])
        return sorted(rules & changed_rules)

    old_fired = {rule for rule, _, _ in old_trace}
    result.no_longer_fire = sorted(old_fired - new.fired_rules())
    result.now_fire = sorted(new.fired_rules() - old_fired)
    result.advice = _diff_advice(record["advice"], new_json["advice"], causes)
    result.parts = _diff_parts(record, new_json)
    return result


def _blockers(consultation, rulebook, rule_id: str) -> set[str]:
    """Every rule an explanation of why ``rule_id`` did not fire now names."""
    from haircare_expert.audit.explain import explain
    if rule_id in consultation.fired_rules():
        return set()
    data = explain(consultation, rulebook, rule_id).to_json()
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("rule"), str):
                found.add(node["rule"])
            found.update(node.get("blocked_by") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(data["why_not"])
    return found


def _same(a: dict, b: dict) -> bool:
    return all(a.get(f) == b.get(f) for f in ADVICE_FIELDS)


def _diff_advice(old_items: list[dict], new_items: list[dict], causes) -> list[AdviceChange]:
    changes: list[AdviceChange] = []
    rules = list(dict.fromkeys([a["rule"] for a in old_items] + [a["rule"] for a in new_items]))
    for rule in rules:
        old = [a for a in old_items if a["rule"] == rule]
        new = [a for a in new_items if a["rule"] == rule]
        for item in list(old):
            twin = next((n for n in new if _same(item, n)), None)
            if twin is not None:
                old.remove(item)
                new.remove(twin)
        for before, after in zip(old, new):
            fields = [f for f in ADVICE_FIELDS if before.get(f) != after.get(f)]
            changes.append(AdviceChange("changed", rule, after.get("kind", ""), after.get("title", ""),
                                        before, after, fields, causes(before, after)))
        for before in old[len(new):]:
            changes.append(AdviceChange("removed", rule, before.get("kind", ""), before.get("title", ""),
                                        before, None, [], causes(before, None)))
        for after in new[len(old):]:
            changes.append(AdviceChange("added", rule, after.get("kind", ""), after.get("title", ""),
                                        None, after, [], causes(None, after)))
    return changes


def _diff_parts(record: dict, new_json: dict) -> list[PartChange]:
    parts = []
    old_schedule = record.get("schedule") or {}
    for day in WEEKDAYS:
        before, after = list(old_schedule.get(day, [])), new_json["schedule"].get(day, [])
        if before != after:
            parts.append(PartChange(f"schedule.{day}", before, after))
    for key in ("wash_day_order", "conflicts"):
        before, after = record.get(key, []), new_json[key]
        if before != after:
            parts.append(PartChange(key, before, after))
    return parts


# -- text -------------------------------------------------------------------------------------
def render_text(result: Replay) -> str:
    """The replay as plain text: what changed in the rules and in the advice, and why."""
    def kb(info):
        return (f"knowledge base {info.get('version', '?')}, {info.get('rules', '?')} rules, "
                f"{info.get('fingerprint', '?')}")

    lines = [f"Replay of {result.record}", f"  recorded with {kb(result.old_kb)}",
             f"  replayed with {kb(result.new_kb)}"]
    rule_parts = []
    for label, ids in (("edited", result.rules_edited), ("added", result.rules_added),
                       ("removed", result.rules_removed)):
        if ids:
            rule_parts.append(f"{len(ids)} {label} ({', '.join(ids)})")
    lines.append("Rules: " + ("; ".join(rule_parts) if rule_parts else "no rule changed"))
    lines.append("")
    for change in result.advice:
        lines.append(f"{change.change.upper()} {change.kind} {change.rule}: {change.title}")
        if change.change == "changed":
            for f in change.fields:
                lines.append(f"  {f}: {_short(change.old.get(f))}")
                lines.append(f"  {' ' * len(f)}  -> {_short(change.new.get(f))}")
        else:
            item = change.new if change.change == "added" else change.old
            lines.append(f"  text: {_short(item.get('text'))}")
        if change.caused_by:
            lines.append("  caused by: " + ", ".join(f"{r} ({result.rule_change(r)})" for r in change.caused_by))
        else:
            lines.append("  caused by: no changed rule in its derivation")
        lines.append("")
    for part in result.parts:
        lines.append(f"CHANGED {part.part}: {_short(part.old)} -> {_short(part.new)}")
    if result.parts:
        lines.append("")
    if result.no_longer_fire:
        lines.append(f"Rules that no longer fire: {', '.join(result.no_longer_fire)}")
    if result.now_fire:
        lines.append(f"Rules that fire now and did not before: {', '.join(result.now_fire)}")
    if result.changed:
        counts = {k: sum(1 for a in result.advice if a.change == k) for k in ("added", "removed", "changed")}
        lines.append(f"Result: the advice changed ({counts['added']} added, {counts['removed']} removed, "
                     f"{counts['changed']} changed" + (", schedule or wash-day order changed" if result.parts else "")
                     + ").")
    else:
        lines.append("Result: no change in the advice.")
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + "; ".join(value) + "]"
    return str(value)
