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

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import HaircareError, RuleError, RuleErrors
from haircare_expert.knowledge.conditions import AnyOf, Not, Pattern, Test, Var
from haircare_expert.knowledge.rulebook import Declaration, Rule, Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import UNKNOWN

ERROR, WARNING = "error", "warning"
#: Derived fact types the report lists as findings: a conclusion of these types is "used" even
#: when no rule matches it (except ``need``: a need nobody meets is a gap in the knowledge).
REPORTED_TYPES = ("red-flag", "scalp-state", "hair-state")
#: List fields with more distinct mentioned values than this are not enumerated (assumed fine).
MAX_SET_VALUES = 12

_LOAD_CODES = (
    ("duplicate rule id", "duplicate-id"),
    ("missing 'because'", "missing-because"),
    ("missing 'sources'", "missing-sources"),
    ("missing '", "missing-field"),
    ("unknown source", "unknown-source"),
    ("conflict cites unknown source", "unknown-source"),
    ("needs the section heading", "unknown-section"),
    ("has no section", "unknown-section"),
    ("unknown fact type", "unknown-fact-type"),
    ("has no field", "unknown-field"),
    ("is not a value of this field", "unknown-value"),
    ("is not allowed", "unknown-value"),
    ("not valid YAML", "yaml"),
    ("not valid JSON", "yaml"),
    ("source catalogue", "sources"),
    ("cycle of rules", "negation-cycle"),
    ("variable", "unbound-variable"),
    ("is used in 'then' but not bound", "unbound-variable"),
)


@dataclass(frozen=True)
class Finding:
    """One lint finding: how bad, what kind (``code``), where (``file:line``), which rule, what."""

    severity: str
    code: str
    where: str
    message: str
    rule: str = ""

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

    ``questions`` is the parsed interview question file, ``None`` for none, or ``"shipped"``
    to read ``facts/questions.yaml`` when the package has one.
    """
    try:
        rulebook = Rulebook.load(extra, vocabulary=vocabulary, shipped=shipped)
    except RuleErrors as exc:
        return _sorted(LintReport([_load_finding(p) for p in exc.problems], loaded=False))
    except RuleError as exc:
        return _sorted(LintReport([_load_finding(exc)], loaded=False))
    if questions == "shipped":
        questions = load_questions()
    report = LintReport(lint_rulebook(rulebook, questions), rules=len(rulebook),
                        folders=list(rulebook.folders), overrides=sorted(rulebook.overridden))
    return _sorted(report)


def lint_rulebook(rulebook: Rulebook, questions: Any = None) -> list[Finding]:
    """All findings on a rulebook that loaded (the deeper, whole-knowledge-base checks)."""
    analysis = Analysis(rulebook)
    findings: list[Finding] = []
    findings += _check_firing(rulebook, analysis)
    findings += _check_unused_conclusions(rulebook, analysis)
    findings += _check_unreachable_values(rulebook, analysis)
    findings += _check_opposites(rulebook, analysis)
    findings += _check_examples(rulebook)
    from haircare_expert.engine.limits import problems as engine_limits  # what the engine refuses
    findings += [Finding(ERROR, "engine-limit", rule.location, what, rule.id) for rule, what in engine_limits(rulebook)]
    if questions is not None:
        findings += _check_questions(rulebook, questions)
    return findings


def _sorted(report: LintReport) -> LintReport:
    def key(f: Finding):
        where, _, line = f.where.rpartition(":")
        return (f.severity != ERROR, where or f.where, int(line) if line.isdigit() else 0, f.code, f.message)
    report.findings = sorted(set(report.findings), key=key)
    return report


def _load_finding(problem: HaircareError) -> Finding:
    text = problem.what
    code = next((c for words, c in _LOAD_CODES if words in text), "load")
    match = re.match(r"rule ([a-z0-9-]+):", text)
    return Finding(ERROR, code, problem.where, text, match.group(1) if match else "")


# -- interview questions (facts/questions.yaml, optional) --------------------------------------
def load_questions() -> Any:
    """The shipped interview questions, parsed, or None when the package has none."""
    ref = yamlio.package_files("facts") / "questions.yaml"
    try:
        if not ref.is_file():
            return None
        return yamlio.loads(ref.read_text(encoding="utf-8"), "facts/questions.yaml", RuleError)
    except (OSError, HaircareError):
        return None


@dataclass(frozen=True)
class Question:
    """What lint needs of an interview question: its id, the fact field it fills, its line."""

    id: str
    type: str
    field: str
    line: int = 0


def questions_of(data: Any, vocabulary: Vocabulary) -> list[Question]:
    """Read questions from the question file, tolerating its exact shape.

    The shipped file has ``questions: [{ask: hair.type, ...}]`` (``ask`` names the fact type
    and field). Also accepted: a plain list or a mapping id -> question, with the field given
    as ``field: hair.type`` / ``fills: routine[].product`` / ``fact: hair`` + ``field: type``.
    Entries that name no vocabulary field (``client.name``) are skipped.
    """
    if isinstance(data, dict) and "questions" in data:
        data = data["questions"]
    entries: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        entries = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        entries = [(str(e.get("id") or e.get("ask") or i) if isinstance(e, dict) else str(i), e)
                   for i, e in enumerate(data)]
    out = []
    for qid, entry in entries:
        if not isinstance(entry, dict):
            continue
        target = _question_target(entry, vocabulary)
        if target:
            out.append(Question(qid, target[0], target[1], getattr(entry, "line", 0)))
    return out


def _question_target(entry: dict, vocab: Vocabulary) -> tuple[str, str] | None:
    path = next((entry[k] for k in ("ask", "field", "fills", "path", "target", "asks", "sets")
                 if isinstance(entry.get(k), str)), "")
    head = entry.get("fact") or entry.get("section") or entry.get("type")
    parts = [p for p in re.split(r"[.\[\]]+", path) if p]
    if isinstance(head, str) and len(parts) == 1:
        parts = [head, parts[0]]
    elif isinstance(head, str) and not parts:
        parts = [head]
    if not parts:
        return None
    name = parts[0]
    ftype = vocab.types.get(name) or vocab.sections.get(name)
    if ftype is None or ftype.derived:
        return None
    fname = parts[1] if len(parts) > 1 else (ftype.list_field or "")
    if fname not in ftype.fields:
        return None
    return ftype.name, fname


# -- the static analysis -------------------------------------------------------------------------
ANY = object()  #: a declared value bound from a variable: any value of the field


class Analysis:
    """Which rules can fire, which derived facts can exist, and why an alternative cannot hold."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.vocab = rulebook.vocabulary
        self.single = {t.name for t in self.vocab.types.values() if not t.derived and not t.many}
        self.live: set[str] = set()
        self.produced: dict[str, set[tuple]] = {}
        self.why: dict[tuple[str, int], str] = {}      # (rule, variant) -> reason it cannot hold
        self._fixpoint()

    # the fixpoint: a rule is live if one alternative can hold given what live rules conclude
    def _fixpoint(self) -> None:
        changed = True
        while changed:
            changed = False
            for rule in self.rulebook.rules:
                if rule.id in self.live:
                    continue
                for index, variant in enumerate(rule.variants()):
                    reason = self.impossible(variant)
                    if reason:
                        self.why[(rule.id, index)] = reason
                        continue
                    self.why.pop((rule.id, index), None)
                    self.live.add(rule.id)
                    for decl in rule.declare:
                        self.produced.setdefault(decl.type, set()).update(self.points(decl))
                    changed = True
                    break
        for rule in self.rulebook.rules:   # final reasons for the alternatives of live rules too
            for index, variant in enumerate(rule.variants()):
                reason = self.impossible(variant)
                if reason:
                    self.why[(rule.id, index)] = reason
                else:
                    self.why.pop((rule.id, index), None)

    def points(self, decl: Declaration) -> set[tuple]:
        """The concrete facts a declaration can produce (a variable: every value of the field)."""
        ftype = self.vocab.types[decl.type]
        options = []
        for name, value in decl.fields:
            if isinstance(value, Var):
                spec = ftype.fields[name]
                vals = list(spec.values) if spec.values else [ANY]
                options.append([(name, v) for v in vals])
            else:
                options.append([(name, value)])
        combos = [()]
        for opts in options:
            combos = [c + (o,) for c in combos for o in opts]
        return {tuple(sorted(c, key=lambda kv: kv[0])) for c in combos}

    # domains and satisfying sets
    def _domain(self, type_name: str, fname: str, mentioned: Sequence) -> list | None:
        spec = self.vocab.types[type_name].fields[fname]
        if spec.type == "choice":
            return list(spec.values) + [UNKNOWN]
        if spec.type == "bool":
            return [True, False, UNKNOWN]
        if spec.type == "int" and spec.min is not None and spec.max is not None:
            return list(range(spec.min, spec.max + 1)) + [UNKNOWN]
        if spec.type == "set":
            named = [v for v in spec.values if v in mentioned]
            other = [v for v in spec.values if v not in mentioned][:1]
            base = named + other
            if len(base) > MAX_SET_VALUES:
                return None
            subsets = [c for n in range(len(base) + 1) for c in combinations(base, n)]
            return subsets + [UNKNOWN]
        return None

    @staticmethod
    def _mentioned(patterns: Iterable[Pattern]) -> dict[tuple[str, str], list]:
        out: dict[tuple[str, str], list] = {}
        for pat in patterns:
            for test in pat.tests:
                vals = out.setdefault((pat.type, test.field), [])
                if isinstance(test.value, tuple):
                    vals.extend(test.value)
                elif not isinstance(test.value, (Var, bool)):
                    vals.append(test.value)
        return out

    def _field_sets(self, pattern: Pattern, mentioned) -> dict[str, frozenset | None]:
        """For an input pattern: field -> the values that pass all its tests (None: not enumerable)."""
        by_field: dict[str, list[Test]] = {}
        for test in pattern.tests:
            by_field.setdefault(test.field, []).append(test)
        out = {}
        for fname, tests in by_field.items():
            domain = self._domain(pattern.type, fname, mentioned.get((pattern.type, fname), ()))
            if domain is None:
                out[fname] = None
                continue
            preds = [t.predicate() for t in tests if t.op != "bind"]
            out[fname] = frozenset(v for v in domain if all(p(v) for p in preds))
        return out

    def _derived_set(self, pattern: Pattern) -> frozenset:
        """For a derived pattern: the producible facts (as field tuples) that match it."""
        found = set()
        for point in self.produced.get(pattern.type, ()):
            fields = dict(point)
            ok = True
            for test in pattern.tests:
                if test.field not in fields:
                    ok = False
                    break
                value = fields[test.field]
                if test.op != "bind" and value is not ANY and not test.predicate()(value):
                    ok = False
                    break
            if ok:
                found.add(point)
        return frozenset(found)

    def pattern_set(self, pattern: Pattern, mentioned) -> Any:
        if self.vocab.types[pattern.type].derived:
            return self._derived_set(pattern)
        return self._field_sets(pattern, mentioned)

    @staticmethod
    def _implies(p_set, q_set, derived: bool) -> bool:
        """Every fact matching P (set p_set) also matches Q (set q_set)."""
        if derived:
            return p_set <= q_set
        for fname, q_vals in q_set.items():
            p_vals = p_set.get(fname)
            if p_vals is None or q_vals is None or not p_vals <= q_vals:
                return False
        return True

    def impossible(self, variant: Sequence[Pattern | Not]) -> str:
        """Why this flat conjunction can never hold ("" when it might)."""
        positives = [c for c in variant if isinstance(c, Pattern)]
        nots = [c for c in variant if isinstance(c, Not)]
        mentioned = self._mentioned(positives + [p for n in nots for p in n.body])
        sets = []
        for pat in positives:
            derived = self.vocab.types[pat.type].derived
            s = self.pattern_set(pat, mentioned)
            sets.append((pat, s, derived))
            if derived and not s:
                if not self.produced.get(pat.type):
                    return f"no rule that can fire concludes a {pat.type} fact (needed by '{pat.describe()}')"
                return f"no rule that can fire concludes a fact matching '{pat.describe()}'"
            if not derived:
                for fname, vals in s.items():
                    if vals is not None and not vals:
                        return self._empty_reason(pat, fname)
        merged: dict[str, dict] = {}
        for pat, s, derived in sets:
            if derived or pat.type not in self.single:
                continue
            into = merged.setdefault(pat.type, {})
            for fname, vals in s.items():
                if fname in into and vals is not None and into[fname] is not None:
                    both = into[fname] & vals
                    if not both:
                        tests = [t.describe() for p, _, _ in sets if p.type == pat.type
                                 for t in p.tests if t.field == fname and t.op != "bind"]
                        return (f"there is only one {pat.type} fact and no {fname} value "
                                f"passes all of: {'; '.join(tests)}")
                    into[fname] = both
                elif fname not in into or into[fname] is None:
                    into[fname] = vals
        for neg in nots:
            if len(neg.body) != 1:
                continue
            q = neg.body[0]
            if any(t.op == "bind" for t in q.tests):
                continue
            derived = self.vocab.types[q.type].derived
            q_set = self.pattern_set(q, mentioned)
            candidates = [(pat, s) for pat, s, d in sets if pat.type == q.type]
            if q.type in merged:
                candidates.append((None, merged[q.type]))
            for pat, p_set in candidates:
                if self._implies(p_set, q_set, derived):
                    needs = f"'{pat.describe()}'" if pat else f"the {q.type} patterns"
                    return f"'{neg.describe()}' excludes every {q.type} fact that {needs} needs"
        return ""

    def _empty_reason(self, pat: Pattern, fname: str) -> str:
        spec = self.vocab.types[pat.type].fields[fname]
        tests = "; ".join(t.describe() for t in pat.tests if t.field == fname and t.op != "bind")
        if spec.type == "int":
            return f"{pat.type}.{fname} runs from {spec.min} to {spec.max}: no value passes {tests}"
        return f"no value of {pat.type}.{fname} passes all of: {tests}"

    def vacuous_not(self, neg: Not) -> bool:
        """The negated pattern can never match (so the ``not`` always holds)."""
        if len(neg.body) != 1:
            return False
        q = neg.body[0]
        q_set = self.pattern_set(q, self._mentioned([q]))
        if self.vocab.types[q.type].derived:
            return not q_set
        return any(v is not None and not v for v in q_set.values())

    def could_match(self, point: tuple, pattern: Pattern) -> bool:
        """A derived fact with these fields could match the pattern (bindings aside)."""
        fields = dict(point)
        for test in pattern.tests:
            if test.field not in fields:
                return False
            value = fields[test.field]
            if test.op != "bind" and value is not ANY and not test.predicate()(value):
                return False
        return True


def _all_patterns(rule: Rule) -> list[Pattern]:
    out = []
    for variant in rule.variants():
        for cond in variant:
            out.extend([cond] if isinstance(cond, Pattern) else cond.body)
    return out


def _not_conditions(conds) -> Iterable[Not]:
    for cond in conds:
        if isinstance(cond, Not):
            yield cond
        elif isinstance(cond, AnyOf):
            for alt in cond.alternatives:
                yield from _not_conditions(alt)


# -- the checks --------------------------------------------------------------------------------
def _check_firing(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    out = []
    for rule in rulebook.rules:
        variants = rule.variants()
        dead = [i for i in range(len(variants)) if (rule.id, i) in analysis.why]
        if rule.id not in analysis.live:
            reason = analysis.why.get((rule.id, 0), "its conditions cannot all hold")
            where = len(variants) > 1 and "no alternative of its 'any' can hold; the first: " or ""
            out.append(Finding(ERROR, "never-fires", rule.location, f"rule {rule.id} can never fire: {where}{reason}", rule.id))
        else:
            for i in dead:
                out.append(Finding(WARNING, "dead-alternative", rule.location,
                                   f"rule {rule.id}: alternative {i + 1} of {len(variants)} of its 'any' can never hold: {analysis.why[(rule.id, i)]}", rule.id))
        seen = set()
        for neg in _not_conditions(rule.when):
            if neg in seen:
                continue
            seen.add(neg)
            if analysis.vacuous_not(neg):
                out.append(Finding(WARNING, "vacuous-not", f"{rule.file}:{neg.line or rule.line}",
                                   f"rule {rule.id}: '{neg.describe()}' always holds (nothing can match it), so it changes nothing", rule.id))
    return out


def _check_unused_conclusions(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    patterns = [(r, p) for r in rulebook.rules for p in _all_patterns(r)]
    out = []
    for rule in rulebook.rules:
        for decl in rule.declare:
            if decl.type in REPORTED_TYPES:
                continue
            points = analysis.points(decl)
            used = any(p.type == decl.type and analysis.could_match(pt, p)
                       for pt in points for _, p in patterns)
            if not used:
                what = ", ".join(f"{k}: {'?' + v.name if isinstance(v, Var) else v}" for k, v in decl.fields)
                out.append(Finding(WARNING, "unused-conclusion", rule.location,
                                   f"rule {rule.id} concludes {decl.type} ({what}) but no rule uses it", rule.id))
    return out


def _check_unreachable_values(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    """A derived value a rule waits for that no rule concludes (a typo or a missing rule)."""
    out = []
    for rule in rulebook.rules:
        seen = set()
        for pat in _all_patterns(rule):
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
                    out.append(Finding(WARNING, "unreachable-value", f"{rule.file}:{pat.line or rule.line}",
                                       f"rule {rule.id} waits for {pat.type} {test.field} {', '.join(map(str, missing))}, "
                                       f"which no rule that can fire concludes", rule.id))
    return out


def recommends(rule: Rule) -> set[str]:
    """Products the rule recommends: ``recommend: X`` declared, or tag ``recommend:X``."""
    out = {v for d in rule.declare if d.type == "recommend" for k, v in d.fields
           if k == "product" and not isinstance(v, Var)}
    out |= {t.split(":", 1)[1] for t in rule.tags if t.startswith("recommend:")}
    return out


def avoids(rule: Rule) -> set[str]:
    """Products the rule advises against: tag ``avoid:X``."""
    return {t.split(":", 1)[1] for t in rule.tags if t.startswith("avoid:")}


def _implied_variant(wide: Sequence, narrow: Sequence, analysis: Analysis) -> bool:
    """Whenever ``narrow`` holds, ``wide`` holds too (conservative: False when unsure)."""
    mentioned = analysis._mentioned([p for c in list(wide) + list(narrow)
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
        if not any(p.type == cond.type and analysis._implies(analysis.pattern_set(p, mentioned), w_set, derived)
                   for p in narrow_pos):
            return False
    return True


def _check_opposites(rulebook: Rulebook, analysis: Analysis) -> list[Finding]:
    out = []
    pros = [(r, x) for r in rulebook.rules for x in sorted(recommends(r))]
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
                out.append(Finding(ERROR, "opposite-advice", avoid_rule.location,
                                   f"rules {rec_rule.id} (recommends {product}) and {avoid_rule.id} (advises against it) "
                                   f"always fire together: one's conditions imply the other's", avoid_rule.id))
            else:
                out.append(Finding(WARNING, "opposite-advice", avoid_rule.location,
                                   f"rules {rec_rule.id} (recommends {product}) and {avoid_rule.id} (advises against it) "
                                   f"can fire on the same profile; exclude one case from the other with 'not'", avoid_rule.id))
    return out


def _check_examples(rulebook: Rulebook) -> list[Finding]:
    out = []
    for rule in rulebook.rules:
        if rule.when and not rule.examples.get("fires"):
            out.append(Finding(WARNING, "no-examples", rule.location,
                               f"rule {rule.id} has no 'examples: fires' case, so 'haircare rules test' cannot check it", rule.id))
        for key in ("fires", "silent"):
            cases = rule.examples.get(key)
            if cases is not None and (not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases)):
                out.append(Finding(ERROR, "bad-example", rule.location,
                                   f"rule {rule.id}: examples.{key} must be a list of profiles (mappings)", rule.id))
    return out


def _check_questions(rulebook: Rulebook, data: Any) -> list[Finding]:
    questions = questions_of(data, rulebook.vocabulary)
    tested = {(p.type, t.field) for r in rulebook.rules for p in _all_patterns(r) for t in p.tests}
    typed = {p.type for r in rulebook.rules for p in _all_patterns(r)}
    out = []
    for q in questions:
        ftype = rulebook.vocabulary.types[q.type]
        if (q.type, q.field) in tested:
            continue
        if ftype.list_field == q.field and q.type in typed:
            continue   # a bare `fact: goals` pattern still depends on the answer existing
        path = f"{q.type}.{q.field}"
        named = "" if q.id == path else f" (question {q.id})"
        out.append(Finding(WARNING, "unused-question", f"facts/questions.yaml:{q.line}",
                           f"no rule tests {path}, so asking for it{named} never changes the advice"))
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
    if questions == "shipped":
        questions = load_questions()
    used_by = sorted({r.id for r in rulebook.rules for p in _all_patterns(r)
                      for d in rule.declare if p.type == d.type and r.id != rule.id
                      and any(analysis.could_match(pt, p) for pt in analysis.points(d))})
    fed_by = sorted({r.id for r in rulebook.rules for d in r.declare for p in _all_patterns(rule)
                     if p.type == d.type and r.id != rule.id
                     and any(analysis.could_match(pt, p) for pt in analysis.points(d))})
    fields = sorted(input_fields(rulebook, rule, analysis))
    qs = questions_of(questions, rulebook.vocabulary) if questions is not None else None
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
        "questions": None if qs is None else sorted({q.id for q in qs if (q.type, q.field) in fields}),
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
    for pat in _all_patterns(rule):
        ftype = rulebook.vocabulary.types[pat.type]
        if not ftype.derived:
            out |= {(pat.type, t.field) for t in pat.tests}
            if not pat.tests and ftype.list_field:
                out.add((pat.type, ftype.list_field))
            continue
        for producer in rulebook.rules:
            if any(d.type == pat.type and any(analysis.could_match(pt, pat) for pt in analysis.points(d))
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
