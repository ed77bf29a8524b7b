"""Knowledge-base lint: every problem a rule author should fix, found without running a client.

:func:`lint` loads the rulebook and returns a :class:`LintReport` (it never raises for a broken
rule: load problems become findings). Errors are things that are wrong (the rules do not load,
a rule can never fire, two rules give opposite advice whenever one fires); warnings are things
that look wrong (a conclusion nobody uses, an alternative that can never hold, a question no
rule depends on, two rules whose opposite advice can meet on some profile).

How "can never fire" is decided (static, per alternative of ``any``, no client needed):

* each field test is run on every value the field can take (choices, true/false, the whole
  ``min..max`` range, ``unknown``; for list fields every combination of the values the rule
  mentions plus one it does not), so ``in`` lists that contradict another test on the same
  field, empty or out-of-range number ranges and ``contains_all`` against ``contains_none``
  are all caught;
* hair, scalp, goals and habits are one fact each, so all patterns on them must hold together;
* a ``not`` that excludes every fact a positive pattern needs makes the alternative impossible;
* a pattern on a derived fact needs a rule that can fire and concludes a matching fact
  (computed to a fixpoint, so a chain of dead rules is dead all the way down).

Shared variables across patterns are not analysed (a join could still fail at run time): the
analysis only ever says "never" when it is sure.

Opposite advice (the heuristic): a rule *recommends* a product when it declares
``recommend: X`` or is tagged ``recommend:X``; a rule *advises against* it when tagged
``avoid:X``. For each such pair the two rules' conditions are put together: if every way the
avoiding rule fires also makes the recommending rule fire (or the other way round), that is an
error (the client gets both, every time); if they can merely fire together on some profile,
that is a warning. A recommending rule that excludes the avoid case with a ``not`` is clean.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import HaircareError, Location, RuleError, RuleErrors
from haircare_expert.knowledge.analysis import ANY, Analysis, all_patterns, not_conditions
from haircare_expert.knowledge.conditions import Not, Pattern, Var
from haircare_expert.knowledge.questions import Question, QuestionBook
from haircare_expert.knowledge.rulebook import Declaration, Rule, Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    """One lint finding: how bad, what kind (``code``), where (a :class:`Location`), which rule, what."""

    severity: str
    code: str
    location: Location
    message: str
    rule: str = ""

    @property
    def where(self) -> str:
        """The location as text, ``file:line``."""
        return str(self.location)

    def to_json(self) -> dict:
        return {"severity": self.severity, "code": self.code, "where": self.where,
                "rule": self.rule, "message": self.message}

    def __str__(self) -> str:
        return f"{self.where}: {self.code}: {self.message}"


@dataclass
class LintReport:
    """The outcome of :func:`lint`: findings sorted errors first, then by place."""

    findings: list[Finding]
    rules: int = 0
    loaded: bool = True
    folders: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def to_json(self) -> dict:
        return {"schema": "haircare-lint/1", "ok": self.ok, "loaded": self.loaded,
                "rules": self.rules, "folders": list(self.folders),
                "overrides": list(self.overrides),
                "errors": [f.to_json() for f in self.errors],
                "warnings": [f.to_json() for f in self.warnings]}


# -- entry points ------------------------------------------------------------------------------
def lint(extra: Iterable[str | Path] = (), shipped: str | Path | None = None,
         vocabulary: Vocabulary | None = None, questions: Any = "shipped") -> LintReport:
    """Load the rules (shipped or ``shipped`` plus ``extra`` folders) and lint them.

    ``questions`` is the interview's :class:`QuestionBook`, ``None`` for none, or ``"shipped"``
    to read ``facts/questions.yaml`` when the package has one.
    """
    try:
        rulebook = Rulebook.load(extra, vocabulary=vocabulary, shipped=shipped)
    except RuleErrors as exc:
        return _sorted(LintReport([_load_finding(p) for p in exc.problems], loaded=False))
    except RuleError as exc:
        return _sorted(LintReport([_load_finding(exc)], loaded=False))
    if isinstance(questions, str):
        questions = load_questions(rulebook.vocabulary)
    report = LintReport(lint_rulebook(rulebook, questions), rules=len(rulebook),
                        folders=list(rulebook.folders), overrides=sorted(rulebook.overridden))
    return _sorted(report)


def lint_rulebook(rulebook: Rulebook, questions: QuestionBook | None = None) -> list[Finding]:
    """All findings on a rulebook that loaded (the deeper, whole-knowledge-base checks)."""
    analysis = Analysis(rulebook)
    findings: list[Finding] = []
    findings += _check_firing(rulebook, analysis)
    findings += _check_unused_conclusions(rulebook, analysis)
    findings += _check_unreachable_values(rulebook, analysis)
    findings += _check_opposites(rulebook, analysis)
    findings += _check_examples(rulebook)
    from haircare_expert.engine.limits import problems as engine_limits  # what the engine refuses
    findings += [Finding(ERROR, "engine-limit", rule.at, what, rule.id) for rule, what in engine_limits(rulebook)]
    if questions is not None:
        findings += _check_questions(rulebook, questions)
    return findings


def _sorted(report: LintReport) -> LintReport:
    def key(f: Finding):
        return (f.severity != ERROR, *f.location.sort_key(), f.code, f.message)
    report.findings = sorted(set(report.findings), key=key)
    return report


def _load_finding(problem: HaircareError) -> Finding:
    return Finding(ERROR, problem.code or "load", problem.location, problem.what, problem.rule)


# -- interview questions (facts/questions.yaml, optional) --------------------------------------
def load_questions(vocabulary: Vocabulary) -> QuestionBook | None:
    """The shipped interview questions, read by the :class:`QuestionBook` the interview asks from, or
    None when the package has none (or they do not load: the interview reports that itself)."""
    try:
        if not (yamlio.package_files("facts") / "questions.yaml").is_file():
            return None
        return QuestionBook.load(vocabulary)
    except (OSError, HaircareError):
        return None


def _written_questions(book: QuestionBook) -> list[Question]:
    """The questions the file words itself (not the plain fallbacks), on input fields."""
    return [q for q in book.questions if not q.generated_text and q.fact_type in book.vocabulary.types]


# -- the checks --------------------------------------------------------------------------------
def _check_firing(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    out = []
    for rule in rulebook.rules:
        variants = rule.variants()
        dead = [i for i in range(len(variants)) if (rule.id, i) in analysis.why]
        if rule.id not in analysis.live:
            reason = analysis.why.get((rule.id, 0), "its conditions cannot all hold")
            where = len(variants) > 1 and "no alternative of its 'any' can hold; the first: " or ""
            out.append(Finding(ERROR, "never-fires", rule.at, f"rule {rule.id} can never fire: {where}{reason}", rule.id))
        else:
            for i in dead:
                out.append(Finding(WARNING, "dead-alternative", rule.at,
                                   f"rule {rule.id}: alternative {i + 1} of {len(variants)} of its 'any' can never hold: {analysis.why[(rule.id, i)]}", rule.id))
        seen = set()
        for neg in not_conditions(rule.when):
            if neg in seen:
                continue
            seen.add(neg)
            if analysis.vacuous_not(neg):
                out.append(Finding(WARNING, "vacuous-not", Location(rule.file, neg.line or rule.line),
                                   f"rule {rule.id}: '{neg.describe()}' always holds (nothing can match it), so it changes nothing", rule.id))
    return out


def _check_unused_conclusions(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    patterns = [(r, p) for r in rulebook.rules for p in all_patterns(r)]
    vocab = rulebook.vocabulary
    out = []
    for rule in rulebook.rules:
        for decl in rule.declare:
            if decl.type in vocab.reported and decl.type != vocab.need:
                continue   # the report lists it (a need nobody meets, though, is a gap)
            points = analysis.points(decl)
            used = any(p.type == decl.type and analysis.could_match(pt, p)
                       for pt in points for _, p in patterns)
            if not used:
                what = ", ".join(f"{k}: {'?' + v.name if isinstance(v, Var) else v}" for k, v in decl.fields)
                out.append(Finding(WARNING, "unused-conclusion", rule.at,
                                   f"rule {rule.id} concludes {decl.type} ({what}) but no rule uses it", rule.id))
    return out


def _check_unreachable_values(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    """A derived value a rule waits for that no rule concludes (a typo or a missing rule)."""
    out = []
    for rule in rulebook.rules:
        seen = set()
        for pat in all_patterns(rule):
            if not analysis.vocab.types[pat.type].derived:
                continue
            produced = {v for pt in analysis.produced.get(pat.type, ()) for k, v in pt}
            if ANY in produced:
                continue
            for test in pat.tests:
                if test.op not in ("eq", "in", "contains", "contains_any", "contains_all"):
                    continue
                values = test.value if isinstance(test.value, tuple) else (test.value,)
                missing = [v for v in values if v not in produced and (pat.type, test.field, v) not in seen]
                seen.update((pat.type, test.field, v) for v in missing)
                if missing:
                    out.append(Finding(WARNING, "unreachable-value", Location(rule.file, pat.line or rule.line),
                                       f"rule {rule.id} waits for {pat.type} {test.field} {', '.join(map(str, missing))}, "
                                       f"which no rule that can fire concludes", rule.id))
    return out


def recommends(rule: Rule, vocab: Vocabulary) -> set[str]:
    """Products the rule recommends: ``recommend: X`` declared (the vocabulary's ``recommend``
    role), or tag ``recommend:X``."""
    type_name, fname = vocab.recommend or ("", "")
    out = {v for d in rule.declare if d.type == type_name for k, v in d.fields
           if k == fname and not isinstance(v, Var)}
    out |= {t.split(":", 1)[1] for t in rule.tags if t.startswith("recommend:")}
    return out


def avoids(rule: Rule) -> set[str]:
    """Products the rule advises against: tag ``avoid:X``."""
    return {t.split(":", 1)[1] for t in rule.tags if t.startswith("avoid:")}


def _implied_variant(wide: Sequence, narrow: Sequence, analysis: Analysis) -> bool:
    """Whenever ``narrow`` holds, ``wide`` holds too (conservative: False when unsure)."""
    mentioned = analysis.mentioned([p for c in list(wide) + list(narrow)
                                     for p in ([c] if isinstance(c, Pattern) else c.body)])
    narrow_pos = [c for c in narrow if isinstance(c, Pattern)]
    for cond in wide:
        if isinstance(cond, Not):
            if cond not in narrow:
                return False
            continue
        if any(t.op == "bind" for t in cond.tests):
            return False
        derived = analysis.vocab.types[cond.type].derived
        w_set = analysis.pattern_set(cond, mentioned)
        if not any(p.type == cond.type and analysis.implies(analysis.pattern_set(p, mentioned), w_set, derived)
                   for p in narrow_pos):
            return False
    return True


def _check_opposites(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    out = []
    pros = [(r, x) for r in rulebook.rules for x in sorted(recommends(r, rulebook.vocabulary))]
    cons = [(r, x) for r in rulebook.rules for x in sorted(avoids(r))]
    for avoid_rule, product in cons:
        for rec_rule, rec_product in pros:
            if rec_product != product or rec_rule.id == avoid_rule.id:
                continue
            if rec_rule.id not in analysis.live or avoid_rule.id not in analysis.live:
                continue
            together = [va + vr for va in avoid_rule.variants() for vr in rec_rule.variants()
                        if not analysis.impossible(va + vr)]
            if not together:
                continue
            always = (all(any(_implied_variant(vr, va, analysis) for vr in rec_rule.variants())
                          for va in avoid_rule.variants())
                      or all(any(_implied_variant(va, vr, analysis) for va in avoid_rule.variants())
                             for vr in rec_rule.variants()))
            if always:
                out.append(Finding(ERROR, "opposite-advice", avoid_rule.at,
                                   f"rules {rec_rule.id} (recommends {product}) and {avoid_rule.id} (advises against it) "
                                   f"always fire together: one's conditions imply the other's", avoid_rule.id))
            else:
                out.append(Finding(WARNING, "opposite-advice", avoid_rule.at,
                                   f"rules {rec_rule.id} (recommends {product}) and {avoid_rule.id} (advises against it) "
                                   f"can fire on the same profile; exclude one case from the other with 'not'", avoid_rule.id))
    return out


def _check_examples(rulebook: Rulebook) -> list[Finding]:
    out = []
    for rule in rulebook.rules:
        if rule.when and not rule.examples.get("fires"):
            out.append(Finding(WARNING, "no-examples", rule.at,
                               f"rule {rule.id} has no 'examples: fires' case, so 'haircare rules test' cannot check it", rule.id))
        for key in ("fires", "silent"):
            cases = rule.examples.get(key)
            if cases is not None and (not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases)):
                out.append(Finding(ERROR, "bad-example", rule.at,
                                   f"rule {rule.id}: examples.{key} must be a list of profiles (mappings)", rule.id))
    return out


def _check_questions(rulebook: Rulebook, book: QuestionBook) -> list[Finding]:
    tested = {(p.type, t.field) for r in rulebook.rules for p in all_patterns(r) for t in p.tests}
    typed = {p.type for r in rulebook.rules for p in all_patterns(r)}
    out = []
    for q in _written_questions(book):
        ftype = rulebook.vocabulary.types[q.fact_type]
        if (q.fact_type, q.field) in tested:
            continue
        if ftype.list_field == q.field and q.fact_type in typed:
            continue   # a bare `fact: goals` pattern still depends on the answer existing
        out.append(Finding(WARNING, "unused-question", Location(book.where, q.line),
                           f"no rule tests {q.ask}, so asking for it never changes the advice"))
    return out


# -- rule inspection (for `haircare rules show`) ----------------------------------------------
def rule_source(rule: Rule) -> str:
    """The rule's text as written in its file (its block of a multi-rule file)."""
    text = _read_rule_file(rule.file, shipped=rule.origin == "shipped")
    if text is None:
        return ""
    lines = text.splitlines()
    start = min(max(rule.line - 1, 0), max(len(lines) - 1, 0))
    first = lines[start] if lines else ""
    base = len(first) - len(first.lstrip())
    item = first.lstrip().startswith("- ")
    end = len(lines)
    if item or base > 0:
        for i in range(start + 1, len(lines)):
            line = lines[i]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            lead = len(line) - len(line.lstrip())
            if lead < base or (item and lead == base):
                end = i
                break
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return textwrap.dedent("\n".join(lines[start:end])) + "\n"


def _read_rule_file(name: str, shipped: bool) -> str | None:
    try:
        if shipped and name.startswith("rules/"):
            ref = yamlio.package_files("rules")
            for part in name.split("/")[1:]:
                ref = ref / part
            return ref.read_text(encoding="utf-8")
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def rule_info(rulebook: Rulebook, rule_id: str, questions: Any = "shipped") -> dict:
    """Everything ``rules show`` prints about one rule: text, conditions in words, links."""
    rule = rulebook.get(rule_id)
    analysis = Analysis(rulebook)
    if isinstance(questions, str):
        questions = load_questions(rulebook.vocabulary)
    used_by = sorted({r.id for r in rulebook.rules for p in all_patterns(r)
                      for d in rule.declare if p.type == d.type and r.id != rule.id
                      and analysis.could_produce(d, p)})
    fed_by = sorted({r.id for r in rulebook.rules for d in r.declare for p in all_patterns(rule)
                     if p.type == d.type and r.id != rule.id
                     and analysis.could_produce(d, p)})
    fields = sorted(input_fields(rulebook, rule, analysis))
    qs = _written_questions(questions) if questions is not None else None
    return {
        "id": rule.id, "title": rule.title, "kind": rule.kind, "origin": rule.origin,
        "where": rule.location, "salience": rule.salience, "stratum": rule.stratum,
        "tags": list(rule.tags), "sources": [dict(s) for s in rule.sources],
        "text": rule_source(rule),
        "conditions": [c.describe() for c in rule.when] or ["always (no conditions)"],
        "advises": rule.advise, "steps": list(rule.steps),
        "concludes": [_decl_words(d) for d in rule.declare],
        "used_by": used_by, "fed_by": fed_by,
        "profile_fields": [_field_words(rulebook.vocabulary, t, f) for t, f in fields],
        "questions": None if qs is None else sorted({q.ask for q in qs if (q.fact_type, q.field) in fields}),
        "can_fire": rule.id in analysis.live,
        "examples": {k: len(v) if isinstance(v, list) else 1 for k, v in rule.examples.items()},
    }


def input_fields(rulebook: Rulebook, rule: Rule, analysis: Analysis | None = None,
                 seen: set | None = None) -> set[tuple[str, str]]:
    """The input (type, field) pairs the rule tests, directly or through rules that feed it."""
    analysis = analysis or Analysis(rulebook)
    seen = seen if seen is not None else set()
    if rule.id in seen:
        return set()
    seen.add(rule.id)
    out: set[tuple[str, str]] = set()
    for pat in all_patterns(rule):
        ftype = rulebook.vocabulary.types[pat.type]
        if not ftype.derived:
            out |= {(pat.type, t.field) for t in pat.tests}
            if not pat.tests and ftype.list_field:
                out.add((pat.type, ftype.list_field))
            continue
        for producer in rulebook.rules:
            if any(d.type == pat.type and analysis.could_produce(d, pat)
                   for d in producer.declare):
                out |= input_fields(rulebook, producer, analysis, seen)
    return out


def _field_words(vocab: Vocabulary, type_name: str, fname: str) -> str:
    ftype = vocab.types[type_name]
    if ftype.list_field == fname:
        return ftype.section
    if ftype.many:
        return f"{ftype.section}[].{fname}"
    return f"{ftype.section}.{fname}"


def _decl_words(decl: Declaration) -> str:
    return f"{decl.type}: " + ", ".join(
        f"{k} {'?' + v.name if isinstance(v, Var) else v}" for k, v in decl.fields)


def render_rule_info(info: dict) -> str:
    """``rules show`` as text: the rule as written, in words, and what it is linked to."""
    out: list[str] = []
    out.append(f"{info['id']}: {info['title']}")
    out.append(f"kind {info['kind']}, salience {info['salience']}, stratum {info['stratum']}, "
               f"origin {info['origin']}, at {info['where']}"
               + ("" if info["can_fire"] else "  (lint: can never fire)"))
    out.append("\nAs written:")
    for line in info["text"].rstrip("\n").splitlines():
        out.append(f"  {line}")
    out.append("\nWhen:")
    for cond in info["conditions"]:
        out.append(f"  - {cond}")
    if info["advises"]:
        out.append(f"Advises: {info['advises']}")
    if info["concludes"]:
        out.append(f"Concludes: {'; '.join(info['concludes'])}")
    out.append(f"Fed by rules: {', '.join(info['fed_by']) or '(none: only client answers)'}")
    out.append(f"Used by rules: {', '.join(info['used_by']) or '(none)'}")
    if info["questions"] is not None:
        out.append(f"Questions that feed it: {', '.join(info['questions']) or '(none)'}")
    out.append(f"Profile fields that feed it: {', '.join(info['profile_fields']) or '(none)'}")
    sources = [f"{s['source']} \"{s['section']}\"" if "source" in s else f"own: {s['note']}"
               for s in info["sources"]]
    out.append("Sources: " + "; ".join(sources))
    out.append("Examples: " + (", ".join(f"{n} {k}" for k, n in info["examples"].items()) or "none"))
    return "\n".join(out) + "\n"


def render_lint(report: LintReport) -> str:
    """``rules lint`` as text: errors, warnings and a closing count."""
    out: list[str] = []
    for title, items in (("Errors", report.errors), ("Warnings", report.warnings)):
        if items:
            out.append(f"{title} ({len(items)}):")
            for finding in items:
                out.append(f"  {finding}")
    state = "" if report.loaded else " (the rules do not load: fix these first; deeper checks skipped)"
    out.append(f"lint: {report.rules} rules, {len(report.errors)} error(s), "
               f"{len(report.warnings)} warning(s){state}")
    return "\n".join(out) + "\n"
