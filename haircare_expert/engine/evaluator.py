"""A second, naive inference engine: the rules evaluated directly in plain Python (no Rete).

:func:`evaluate` runs a rulebook on input facts to a fixpoint, stratum by stratum, with the
same meaning the compiled engine has (:func:`conditions.matches`, the rule strata, derived facts
merged by content). It is obvious on purpose: the property test checks that experta and this
evaluator never disagree, and the benchmark uses it as the plain-Python floor.

:func:`diagnose` and :func:`why_not` walk a rule's conditions against facts and report the
first condition no combination of facts gets past, with what was there instead: :mod:`explain`
and ``rules test`` use them to say why a rule did *not* fire.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from haircare_expert.errors import EngineError
from haircare_expert.knowledge.conditions import Not, Pattern, Test, Var, match_pattern, matches, test_value
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.model import Fact

#: Marks a field the fact does not have (a test on it never matches).
MISSING = object()


@dataclass(frozen=True)
class Match:
    """One way a rule's conditions hold: the alternative, the facts matched, the bindings."""

    rule: str
    variant: int
    facts: tuple[Fact, ...]
    bindings: tuple[tuple[str, Any], ...]
    declared: tuple[Fact, ...] = ()

    def key(self) -> tuple:
        """Identity by content: (rule, matched facts' contents), independent of fact ids."""
        return (self.rule, tuple(f.key() for f in self.facts))


@dataclass
class Evaluation:
    """The result of a direct evaluation: every fact (input first) and every match."""

    facts: list[Fact]
    matches: list[Match]

    def fired(self, rule_id: str) -> list[Match]:
        return [m for m in self.matches if m.rule == rule_id]

    def fired_rules(self) -> set[str]:
        return {m.rule for m in self.matches}


def evaluate(rulebook: Rulebook, facts: Sequence[Fact], limit: int = 100_000) -> Evaluation:
    """Run every rule on ``facts`` to a fixpoint, lowest stratum first.

    Within a stratum the rules are re-tested until no new match appears; a negation only
    names types concluded in lower strata, so it sees everything it negates. Facts with the same
    content are one fact, as in the engine; ids are given ``f-1``, ``f-2``... in order of arrival.
    """
    known: dict[tuple, Fact] = {}
    ordered: list[Fact] = []

    def add(fact: Fact) -> Fact | None:
        key = fact.key()
        if key in known:
            return None
        stored = Fact(fact.type, dict(fact.fields), fact.origin, f"f-{len(ordered) + 1}")
        known[key] = stored
        ordered.append(stored)
        return stored

    for fact in facts:
        add(fact)
    found: list[Match] = []
    seen: set[tuple] = set()
    strata = sorted({r.stratum for r in rulebook.rules})
    for stratum in strata:
        rules = [r for r in rulebook.rules if r.stratum == stratum]
        changed = True
        while changed:
            changed = False
            for rule in rules:
                for index, variant in enumerate(rule.variants()):
                    for matched, bindings in list(matches(variant, list(ordered))):
                        ident = (rule.id, index, tuple(f.id for f in matched))
                        if ident in seen:
                            continue
                        seen.add(ident)
                        if len(seen) > limit:
                            raise EngineError("evaluator", f"direct evaluation exceeded {limit} matches")
                        declared = []
                        for decl in rule.declare:
                            values = {name: (bindings[v.name] if isinstance(v, Var) else v)
                                      for name, v in decl.fields}
                            new = add(Fact(decl.type, values, f"rule:{rule.id}"))
                            if new is not None:
                                declared.append(new)
                                changed = True
                        found.append(Match(rule.id, index, tuple(matched),
                                           tuple(sorted(bindings.items())), tuple(declared)))
    return Evaluation(ordered, found)


# -- diagnosis --------------------------------------------------------------------------------
@dataclass
class TestOutcome:
    """One field test applied to one fact: the value found and whether it passed."""

    test: Test
    actual: Any            # the field's value, or MISSING
    passed: bool
    bound: Any = MISSING   # for a variable test that compares: the value the variable holds


@dataclass
class Candidate:
    """A fact of the right type that a pattern still rejected, and the first test it failed."""

    fact: Fact
    failed: TestOutcome


@dataclass
class Failure:
    """Why one alternative of a rule's conditions does not hold.

    ``index`` is the position of the first condition that no partial match gets past. For a
    pattern, ``candidates`` lists each fact of its type with the first test it fails (empty
    when no fact of that type exists). For a ``not``, ``blocking`` lists the facts that matched
    its body. ``passed`` holds the partial matches of the conditions before it.
    """

    variant: int
    index: int
    condition: Pattern | Not
    passed: list[tuple[tuple[Fact, ...], dict]]
    candidates: list[Candidate] = field(default_factory=list)
    blocking: list[tuple[Fact, ...]] = field(default_factory=list)
    bindings: dict = field(default_factory=dict)


def outcomes(pattern: Pattern, fact: Fact, bindings: dict) -> list[TestOutcome]:
    """Every test of ``pattern`` applied to ``fact`` in order (variables bound as they go)."""
    result = []
    for test in pattern.tests:
        actual = fact.fields.get(test.field, MISSING)
        bound = bindings.get(test.value.name, MISSING) if test.op == "bind" else MISSING
        if actual is MISSING:
            result.append(TestOutcome(test, actual, False, bound))
            continue
        after = test_value(test, actual, bindings)
        result.append(TestOutcome(test, actual, after is not None, bound))
        if after is not None:
            bindings = after
    return result


def first_failed(pattern: Pattern, fact: Fact, bindings: dict) -> TestOutcome | None:
    """The first test of ``pattern`` that ``fact`` fails under ``bindings`` (None if it matches)."""
    return next((o for o in outcomes(pattern, fact, bindings) if not o.passed), None)


def diagnose(variant: Sequence[Pattern | Not], facts: Sequence[Fact], number: int = 0,
             cap: int = 10_000) -> Failure | None:
    """The first condition of ``variant`` that fails against ``facts``; None if it holds."""
    partial: list[tuple[tuple[Fact, ...], dict]] = [((), {})]
    for index, cond in enumerate(variant):
        if isinstance(cond, Not):
            kept, blocking = [], []
            for matched, bindings in partial:
                hit = next(matches(cond.body, facts, bindings), None)
                if hit is None:
                    kept.append((matched, bindings))
                else:
                    blocking.append(hit[0])
            if not kept:
                unique = list({tuple(f.id for f in combo): combo for combo in blocking}.values())
                return Failure(number, index, cond, partial, blocking=unique,
                               bindings=partial[0][1])
            partial = kept
            continue
        extended = []
        for matched, bindings in partial:
            for fact in facts:
                new = match_pattern(cond, fact, bindings)
                if new is not None:
                    extended.append((matched + (fact,), new))
                    if len(extended) > cap:
                        break
        if not extended:
            bindings = partial[0][1]
            candidates = []
            for fact in facts:
                if fact.type == cond.type:
                    # Under the bindings of the first partial match that the fact gets furthest with.
                    best = None
                    for _, b in partial:
                        failed = first_failed(cond, fact, b)
                        if failed is not None and (best is None or _rank(cond, failed) > _rank(cond, best)):
                            best = failed
                    candidates.append(Candidate(fact, best))
            return Failure(number, index, cond, partial, candidates=candidates, bindings=bindings)
        partial = extended
    return None


def _rank(pattern: Pattern, outcome: TestOutcome) -> int:
    return pattern.tests.index(outcome.test)


def why_not(rule: Rule, facts: Sequence[Fact]) -> list[Failure] | None:
    """One :class:`Failure` per alternative of ``rule``; None when some alternative holds."""
    failures = []
    for number, variant in enumerate(rule.variants()):
        failure = diagnose(variant, facts, number)
        if failure is None:
            return None
        failures.append(failure)
    return failures

