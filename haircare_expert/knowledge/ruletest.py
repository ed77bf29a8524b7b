"""Rule tests: run every rule's ``examples`` and the example profiles, and measure coverage.

Each rule may carry ``examples: {fires: [...], silent: [...], todo: [...]}``: a profile fragment
in ``fires`` must make the rule fire, one in ``silent`` must not, and ``todo`` entries are known
gaps (listed, never run). The example client profiles (``facts/examples/*.yaml``) are run too,
with their expectations from a sidecar file that maps a profile file name to the rules that must
fire and stay silent on it::

    dry-flaky-scalp.yaml:
      fires: [hair-serum-not-on-scalp]
      silent: [scalp-healthy]

The sidecar is ``facts/expected.yaml`` (or ``expected.yaml`` inside the examples folder; that
file is never read as a profile). Every case runs through :meth:`Advisor.consult`, the same path
a client takes.

Coverage, measured over every case run (deterministic, no sampling):

* rules never fired by any case, and rules with no ``silent`` case of their own;
* alternatives of ``any`` never taken (from the variant recorded at each firing);
* conditions never *deciding*: a field test or ``not`` is deciding in a case when the rule
  stayed silent and would have fired with that one condition removed. A condition never
  deciding has no case showing that it matters.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.consult.advisor import Advisor
from haircare_expert.engine.evaluator import why_not
from haircare_expert.errors import HaircareError, RuleError
from haircare_expert.knowledge.conditions import Not, Pattern, match_pattern, matches
from haircare_expert.model import Consultation, Fact

SIDECAR = "expected.yaml"
EXPECT_KEYS = ("fires", "silent", "first")
#: ``first`` absent: the opening advice is not checked.
NO_CHECK = object()


@dataclass
class CaseResult:
    """One case: a profile, the rules it must fire / keep silent, and what happened."""

    name: str                      # "rule-id fires[0]" or "example dry-flaky-scalp.yaml"
    where: str                     # file:line of the case
    fires: list[str]
    silent: list[str]
    fired: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rule: str = ""                 # the rule whose example this is ("" for example profiles)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict:
        return {"name": self.name, "where": self.where, "rule": self.rule,
                "passed": self.passed, "fires": list(self.fires), "silent": list(self.silent),
                "fired": list(self.fired), "failures": list(self.failures)}


@dataclass
class Gap:
    """A ``todo`` example: a known gap in the knowledge, listed but not run."""

    rule: str
    where: str
    note: str

    def to_json(self) -> dict:
        return {"rule": self.rule, "where": self.where, "note": self.note}


@dataclass
class Coverage:
    """What the cases exercised."""

    rules: int
    fired: list[str]
    never_fired: list[str]
    no_silent_case: list[str]
    alternatives_total: int
    alternatives_never_taken: list[dict]
    conditions_total: int
    conditions_never_deciding: list[dict]

    def to_json(self) -> dict:
        return {"rules": self.rules, "rules_fired": len(self.fired),
                "never_fired": list(self.never_fired),
                "no_silent_case": list(self.no_silent_case),
                "alternatives": {"total": self.alternatives_total,
                                 "taken": self.alternatives_total - len(self.alternatives_never_taken),
                                 "never_taken": list(self.alternatives_never_taken)},
                "conditions": {"total": self.conditions_total,
                               "deciding": self.conditions_total - len(self.conditions_never_deciding),
                               "never_deciding": list(self.conditions_never_deciding)}}


@dataclass
class TestReport:
    """The outcome of :func:`run_tests`."""

    __test__ = False   # not a pytest class

    cases: list[CaseResult]
    todo: list[Gap]
    coverage: Coverage

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict:
        return {"schema": "haircare-rule-tests/1", "ok": self.ok,
                "cases": len(self.cases), "passed": len(self.cases) - len(self.failed),
                "failed": len(self.failed), "results": [c.to_json() for c in self.cases],
                "todo": [g.to_json() for g in self.todo], "coverage": self.coverage.to_json()}


# -- collecting cases --------------------------------------------------------------------------
@dataclass
class _Case:
    name: str
    where: str
    profile: Any
    fires: list[str]
    silent: list[str]
    rule: str = ""
    problem: str = ""
    first: Any = NO_CHECK           # the rule whose advice must open the report; None: no referral


def rule_cases(advisor: Advisor) -> tuple[list[_Case], list[Gap]]:
    cases, gaps = [], []
    for rule in advisor.rulebook.rules:
        for key in EXPECT_KEYS:
            entries = rule.examples.get(key) or []
            if not isinstance(entries, list):
                entries = [entries]
            for index, profile in enumerate(entries):
                where = f"{rule.file}:{getattr(profile, 'line', 0) or rule.line}"
                cases.append(_Case(f"{rule.id} {key}[{index}]", where, profile,
                                   [rule.id] if key == "fires" else [],
                                   [rule.id] if key == "silent" else [], rule.id))
        todo = rule.examples.get("todo") or []
        for entry in todo if isinstance(todo, list) else [todo]:
            where = f"{rule.file}:{getattr(entry, 'line', 0) or rule.line}"
            if isinstance(entry, dict):
                note = str(entry.get("note") or entry.get("why") or json.dumps(_plain(entry), sort_keys=True))
            else:
                note = str(entry)
            gaps.append(Gap(rule.id, where, " ".join(note.split())))
    return cases, gaps


def example_cases(folder: str | Path | None = None) -> list[_Case]:
    """The example profiles with their expectations (the shipped ones, or those in ``folder``)."""
    files: list[tuple[str, str, str]] = []     # (name, display path, text)
    sidecar: tuple[str, str] | None = None     # (display path, text)
    if folder is None:
        root = yamlio.package_files("facts")
        examples = root / "examples"
        if examples.is_dir():
            for ref in sorted(examples.iterdir(), key=lambda r: r.name):
                if ref.name.endswith((".yaml", ".yml", ".json")):
                    files.append((ref.name, f"facts/examples/{ref.name}", ref.read_text(encoding="utf-8")))
        for ref, label in ((examples / SIDECAR, f"facts/examples/{SIDECAR}"), (root / SIDECAR, f"facts/{SIDECAR}")):
            if ref.is_file():
                sidecar = (label, ref.read_text(encoding="utf-8"))
                break
    else:
        path = Path(folder)
        for file in sorted(path.iterdir()):
            if file.suffix in (".yaml", ".yml", ".json") and file.is_file():
                files.append((file.name, str(file), yamlio.read_text(file, RuleError)))
        if (path / SIDECAR).is_file():
            sidecar = (str(path / SIDECAR), yamlio.read_text(path / SIDECAR, RuleError))
    expected: dict = {}
    sidecar_problem = ""
    if sidecar:
        try:
            expected = yamlio.loads(sidecar[1], sidecar[0], RuleError) or {}
        except RuleError as exc:
            sidecar_problem = str(exc)
        if not isinstance(expected, dict):
            sidecar_problem = f"{sidecar[0]}: must map example file names to {{fires: [...], silent: [...]}}"
            expected = {}
    cases = []
    names = set()
    for name, label, text in files:
        if name == SIDECAR:
            continue
        names.add(name)
        entry = expected.get(name) or {}
        problem = sidecar_problem
        # 'plan': the plan a consultant expects, checked by tests/test_examples.py
        if not isinstance(entry, dict) or set(entry) - set(EXPECT_KEYS) - {"plan"}:
            problem = (f"{sidecar[0]}: {name}: takes only 'fires' and 'silent' lists of rule ids, "
                       "'first' (the rule that must open the advice, or null for no referral) "
                       "and 'plan'")
            entry = {}
        try:
            profile = yamlio.loads(text, label, RuleError)
        except RuleError as exc:
            profile, problem = None, str(exc)
        where = f"{sidecar[0]}:{expected.line_of(name)}" if name in expected else label
        cases.append(_Case(f"example {name}", where, profile,
                           [str(x) for x in entry.get("fires") or []],
                           [str(x) for x in entry.get("silent") or []], problem=problem,
                           first=entry.get("first", NO_CHECK)))
    for name in sorted(set(expected) - names):
        cases.append(_Case(f"example {name}", f"{sidecar[0]}:{expected.line_of(name)}", None, [], [],
                           problem=f"{sidecar[0]}: expectations for {name}, but there is no such example profile"))
    return cases


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


# -- running -----------------------------------------------------------------------------------
def run_tests(advisor: Advisor | None = None, extra_rules: Iterable[str] = (),
              examples: str | Path | None = None, include_examples: bool = True) -> TestReport:
    """Run every rule example and example profile; return the results and the coverage."""
    advisor = advisor or Advisor(extra_rules=tuple(extra_rules))
    rulebook = advisor.rulebook
    cases, gaps = rule_cases(advisor)
    if include_examples:
        cases += example_cases(examples)
    runs: dict[str, Consultation] = {}
    results = []
    consultations: list[Consultation] = []
    for case in cases:
        result = CaseResult(case.name, case.where, case.fires, case.silent, rule=case.rule)
        results.append(result)
        if case.problem:
            result.failures.append(case.problem)
            continue
        for rid in case.fires + case.silent:
            if rid not in rulebook.by_id:
                result.failures.append(f"no rule with id {rid!r}")
        key = json.dumps(_plain(case.profile), sort_keys=True)
        consultation = runs.get(key)
        if consultation is None:
            try:
                consultation = advisor.consult(case.profile, case.where)
            except HaircareError as exc:
                result.failures.append(f"the case cannot be run: {exc}")
                continue
            runs[key] = consultation
            consultations.append(consultation)
        fired = consultation.fired_rules()
        result.fired = sorted(fired)
        for rid in case.fires:
            if rid in rulebook.by_id and rid not in fired:
                result.failures.append(f"{rid} should fire but stayed silent{_why_not(rulebook.by_id[rid], consultation)}")
        for rid in case.silent:
            if rid in fired:
                result.failures.append(f"{rid} should stay silent but fired")
        if case.first is not NO_CHECK:
            referrals = [a.rule for a in consultation.advice if a.kind == "referral"]
            opening = consultation.advice[0].rule if consultation.advice else None
            if case.first is None and referrals:
                result.failures.append(f"expected no referral, got {', '.join(referrals)}")
            elif case.first is not None and opening != case.first:
                result.failures.append(f"the advice should open with {case.first}, not {opening}")
    return TestReport(results, gaps, _coverage(rulebook, consultations, cases))


def _why_not(rule, consultation: Consultation) -> str:
    """The first condition that fails for the closest alternative (a hint for the author)."""
    failures = why_not(rule, consultation.facts)
    if not failures:
        return ""
    closest = max(failures, key=lambda failure: failure.index)
    return f" (first unmet condition: {closest.condition.describe()})"


def _units(rule) -> list[tuple]:
    """The conditions of a rule that coverage tracks: each non-bind field test, each 'not'."""
    units, seen = [], set()
    for variant in rule.variants():
        for cond in variant:
            if isinstance(cond, Not):
                key = (cond, None)
                if key not in seen:
                    seen.add(key)
                    units.append(key)
                continue
            for test in cond.tests:
                key = (cond, test)
                if test.op != "bind" and key not in seen:
                    seen.add(key)
                    units.append(key)
    return units


def _unit_words(unit) -> str:
    cond, test = unit
    if test is None:
        return cond.describe()
    return f"{cond.type}: {test.describe()}"


def _deciding(rule, facts: Sequence[Fact]) -> set:
    """The units that alone kept ``rule`` from matching ``facts``."""
    out = set()
    for variant in rule.variants():
        failing = [i for i, c in enumerate(variant) if isinstance(c, Pattern)
                   and not any(match_pattern(c, f, {}) is not None for f in facts)]
        if len(failing) > 1:
            continue
        indices = failing if failing else range(len(variant))
        for i in indices:
            cond = variant[i]
            if isinstance(cond, Not):
                reduced = variant[:i] + variant[i + 1:]
                if next(matches(reduced, facts), None) is not None:
                    out.add((cond, None))
                continue
            for test in cond.tests:
                if test.op == "bind":
                    continue
                smaller = Pattern(cond.type, tuple(t for t in cond.tests if t is not test), cond.line)
                reduced = variant[:i] + (smaller,) + variant[i + 1:]
                if next(matches(reduced, facts), None) is not None:
                    out.add((cond, test))
    return out


def _coverage(rulebook, consultations: list[Consultation], cases: list[_Case]) -> Coverage:
    fired: set[str] = set()
    taken: dict[str, set[int]] = {}
    deciding: dict[str, set] = {}
    for c in consultations:
        ran = c.fired_rules()
        fired |= ran
        for firing in c.trace:
            taken.setdefault(firing.rule, set()).add(firing.variant)
        for rule in rulebook.rules:
            if rule.id not in ran and rule.when:
                deciding.setdefault(rule.id, set()).update(_deciding(rule, c.facts))
    silent_owned = {case.rule for case in cases if case.rule and case.silent}
    alt_total, alt_never, cond_total, cond_never = 0, [], 0, []
    for rule in rulebook.rules:
        variants = rule.variants()
        if len(variants) > 1:
            alt_total += len(variants)
            for i, variant in enumerate(variants):
                if i not in taken.get(rule.id, set()):
                    alt_never.append({"rule": rule.id, "alternative": i + 1, "where": rule.location,
                                      "conditions": "; ".join(c.describe() for c in variant)})
        units = _units(rule)
        cond_total += len(units)
        for unit in units:
            if unit not in deciding.get(rule.id, set()):
                line = unit[0].line or rule.line
                cond_never.append({"rule": rule.id, "where": f"{rule.file}:{line}", "condition": _unit_words(unit)})
    ids = [r.id for r in rulebook.rules]
    return Coverage(
        rules=len(ids), fired=sorted(fired & set(ids)),
        never_fired=[i for i in ids if i not in fired],
        no_silent_case=[r.id for r in rulebook.rules if r.when and r.id not in silent_owned],
        alternatives_total=alt_total, alternatives_never_taken=alt_never,
        conditions_total=cond_total, conditions_never_deciding=cond_never)


def render_text(report: TestReport, quiet: bool = False) -> str:
    """``rules test`` as text: each case (failures only when ``quiet``), gaps and coverage."""
    out: list[str] = []
    for case in report.cases:
        if case.passed and not quiet:
            out.append(f"PASS {case.name}  ({case.where})")
        elif not case.passed:
            out.append(f"FAIL {case.name}  ({case.where})")
            for failure in case.failures:
                out.append(f"       {failure}")
    if report.todo:
        out.append(f"\nKnown gaps (todo, not run): {len(report.todo)}")
        for gap in report.todo:
            out.append(f"  {gap.where}: {gap.rule}: {gap.note}")
    cov = report.coverage
    out.append(f"\nCoverage: {len(cov.fired)}/{cov.rules} rules fired by some case")
    if cov.never_fired:
        out.append(f"  never fired: {', '.join(cov.never_fired)}")
    if cov.no_silent_case:
        out.append(f"  no silent case of their own: {', '.join(cov.no_silent_case)}")
    taken = cov.alternatives_total - len(cov.alternatives_never_taken)
    out.append(f"  alternatives of 'any' taken: {taken}/{cov.alternatives_total}")
    for alt in cov.alternatives_never_taken:
        out.append(f"    never taken: {alt['where']}: {alt['rule']} #{alt['alternative']}: {alt['conditions']}")
    deciding = cov.conditions_total - len(cov.conditions_never_deciding)
    out.append(f"  conditions shown deciding (a silent case that only this condition stops): "
               f"{deciding}/{cov.conditions_total}")
    for cond in cov.conditions_never_deciding:
        out.append(f"    never deciding: {cond['where']}: {cond['rule']}: {cond['condition']}")
    out.append(f"\n{len(report.cases)} case(s): {len(report.cases) - len(report.failed)} passed, "
               f"{len(report.failed)} failed; {len(report.todo)} todo")
    return "\n".join(out) + "\n"
