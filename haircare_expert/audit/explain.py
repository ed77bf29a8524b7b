"""Why a rule fired, or why it did not: ``haircare explain PROFILE RULE_ID``.

:func:`explain` reads a finished :class:`~haircare_expert.model.Consultation`:

* a rule that fired is explained once per firing: each condition, the fact that matched it and
  how each test was met, and for every derived fact the firing that concluded it, recursively
  down to the client's answers (``profile:...`` facts);
* a rule that did not fire is diagnosed by the direct evaluator (:mod:`evaluator`) on the same
  facts, per alternative: the first condition that failed, the client's actual values and the
  answer that would have passed; a ``not`` names the facts (and the rules behind them) that
  block it; a pattern on a derived fact nobody concluded lists the rules that could conclude
  it and why they did not, a few levels deep.

The result is plain dataclasses (:class:`Explanation`); :meth:`Explanation.to_json` and
:func:`render_text` (in :mod:`explain_text`) write them out, and :meth:`Explanation.blockers` names every rule a why-not
involves (what replay blames for a line that is gone).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from haircare_expert.audit.explain_text import render_text as render_text  # re-exported: the CLI's entry
from haircare_expert.audit.trace import describe_fact, show_value
from haircare_expert.audit.wording import join_words
from haircare_expert.engine.evaluator import MISSING, Failure, TestOutcome, outcomes, why_not
from haircare_expert.knowledge.analysis import declared_by, rules_concluding
from haircare_expert.knowledge.conditions import Not, Pattern, Test
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.model import Consultation, Fact, Firing, JsonFields, plain

SCHEMA = "haircare-explanation/1"
#: How many levels of "this rule could have concluded it, but ..." a why-not follows.
PRODUCER_DEPTH = 4


# -- the structured explanation ---------------------------------------------------------------
@dataclass
class TestInfo:
    """One field test and the value it met."""

    field: str
    test: str
    actual: Any
    passed: bool
    wanted: str = ""

    def to_json(self) -> dict:
        return {"field": self.field, "test": self.test,
                "actual": None if self.actual is MISSING else plain(self.actual),
                "answered": self.actual is not MISSING, "passed": self.passed,
                "wanted": self.wanted}


@dataclass
class FactInfo:
    """A fact, where it came from and, for a derived fact, the firing that concluded it."""

    id: str
    type: str
    fields: dict
    origin: str
    text: str
    derivation: Derivation | None = None

    def to_json(self) -> dict:
        data = {"id": self.id, "type": self.type,
                "fields": {k: plain(v) for k, v in self.fields.items()},
                "origin": self.origin, "text": self.text}
        if self.derivation is not None:
            data["derivation"] = self.derivation.to_json()
        return data

    def rules(self) -> set[str]:
        """The rules of the firing that concluded this fact, and of those behind it."""
        return self.derivation.rules() if self.derivation is not None else set()


@dataclass
class CandidateInfo(JsonFields):
    """A fact of the right type that a condition still rejected, and the test it failed."""

    fact: FactInfo
    failed: TestInfo


@dataclass
class ConditionInfo:
    """One condition of a rule and how it fared.

    For a pattern that held: ``facts`` is the matched fact and ``tests`` how each test was met.
    For a pattern that failed: ``candidates`` (facts of its type and the test each failed),
    ``missing`` (when no fact of its type exists), ``answer`` (what would make it hold) and, for
    a derived type, ``producers``. For a ``not`` that failed: ``facts`` are the blocking facts
    and ``blocked_by`` the rules (or answers) they came from.
    """

    number: int
    kind: str                     # pattern | not
    text: str
    holds: bool
    facts: list[FactInfo] = field(default_factory=list)
    tests: list[TestInfo] = field(default_factory=list)
    candidates: list[CandidateInfo] = field(default_factory=list)
    missing: str = ""
    answer: str = ""
    blocked_by: list[str] = field(default_factory=list)
    producers: list[ProducerInfo] = field(default_factory=list)

    def to_json(self) -> dict:
        data: dict = {"number": self.number, "kind": self.kind, "text": self.text,
                      "holds": self.holds}
        if self.facts:
            data["facts"] = [f.to_json() for f in self.facts]
        if self.tests:
            data["tests"] = [t.to_json() for t in self.tests]
        if not self.holds:
            if self.kind == "pattern":
                data["candidates"] = [c.to_json() for c in self.candidates]
                data["missing"] = self.missing
                data["answer"] = self.answer
                data["producers"] = [p.to_json() for p in self.producers]
            else:
                data["blocked_by"] = list(self.blocked_by)
        return data

    def rules(self) -> set[str]:
        """Every rule this condition names: behind its facts, blocking it, or able to conclude it."""
        found = {b for b in self.blocked_by if not b.startswith("profile:")}
        for fact in self.facts + [c.fact for c in self.candidates]:
            found |= fact.rules()
        for producer in self.producers:
            found |= producer.rules()
        return found


@dataclass
class Alternative:
    """Why one alternative (``any`` expanded) of a rule's conditions does not hold."""

    number: int
    conditions: list[ConditionInfo]   # those that held, then the first that failed

    @property
    def failed(self) -> ConditionInfo:
        return self.conditions[-1]

    def to_json(self) -> dict:
        return {"alternative": self.number, "conditions": [c.to_json() for c in self.conditions],
                "first_failed": self.failed.number}

    def rules(self) -> set[str]:
        return set().union(*(c.rules() for c in self.conditions))


@dataclass
class ProducerInfo(JsonFields):
    """A rule that could conclude a fact a condition waits on, and why it did not."""

    rule: str
    title: str
    fired: bool
    note: str
    alternatives: list[Alternative] = field(default_factory=list, metadata={"key": "why_not"})

    def rules(self) -> set[str]:
        return {self.rule}.union(*(a.rules() for a in self.alternatives))


@dataclass
class Derivation(JsonFields):
    """One firing of a rule, explained condition by condition."""

    seq: int
    rule: str
    title: str
    kind: str
    alternative: int
    bindings: dict = field(metadata={"sort": True})
    conditions: list[ConditionInfo]
    declared: list[FactInfo]
    because: str
    sources: list[dict]
    alternatives: int = field(default=1, metadata={"json": False})

    def rules(self) -> set[str]:
        """This firing's rule and every rule behind the facts it matched."""
        return {self.rule}.union(*(c.rules() for c in self.conditions))


@dataclass
class Explanation:
    """Why ``rule`` fired (``firings``) or why it did not (``alternatives``)."""

    rule: str
    title: str
    kind: str
    location: str
    because: str
    sources: list[dict]
    fired: bool
    summary: str
    firings: list[Derivation] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    client: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "client": dict(self.client), "rule": self.rule,
                "title": self.title, "kind": self.kind, "location": self.location,
                "fired": self.fired, "summary": self.summary, "because": self.because,
                "sources": [dict(s) for s in self.sources],
                "firings": [d.to_json() for d in self.firings],
                "why_not": [a.to_json() for a in self.alternatives]}

    def blockers(self) -> set[str]:
        """Every rule the why-not names (empty when the rule fired): the rules whose facts block a
        ``not``, those behind the facts it looked at, and those that could have concluded a
        missing fact, with what kept them from firing, recursively."""
        return set().union(*(a.rules() for a in self.alternatives))


# -- building it ------------------------------------------------------------------------------
def explain(consultation: Consultation, rulebook: Rulebook, rule_id: str) -> Explanation:
    """Explain why ``rule_id`` fired for this consultation, or why it did not.

    Raises :class:`~haircare_expert.errors.NotFoundError` (with close matches) for an unknown id.
    """
    rule = rulebook.get(rule_id)
    builder = _Builder(consultation, rulebook)
    firings, seen = [], set()
    for firing in consultation.trace:
        # One explanation per distinct match (a repeated activation adds nothing to explain).
        if firing.rule == rule.id and (firing.variant, firing.facts) not in seen:
            seen.add((firing.variant, firing.facts))
            firings.append(firing)
    result = Explanation(rule=rule.id, title=rule.title, kind=rule.kind, location=rule.location,
                         because=rule.because, sources=[dict(s) for s in rule.sources],
                         fired=bool(firings), summary="", client=dict(consultation.client))
    if firings:
        result.firings = [builder.derivation(f) for f in firings]
        times = "once" if len(firings) == 1 else f"{len(firings)} times"
        result.summary = f"{rule.id} fired {times}."
        return result
    alternatives = builder.why_not(rule, PRODUCER_DEPTH, frozenset())
    if alternatives is None:
        result.summary = (f"{rule.id} did not fire, yet its conditions hold on the final facts: the "
                          "engine and the direct evaluator disagree (please report this).")
        return result
    result.alternatives = alternatives
    first = alternatives[0].failed
    if len(alternatives) == 1:
        result.summary = f"{rule.id} did not fire: condition {first.number} ({first.text}) is not met."
    else:
        result.summary = (f"{rule.id} did not fire: none of its {len(alternatives)} alternatives "
                          "holds.")
    return result


class _Builder:
    def __init__(self, consultation: Consultation, rulebook: Rulebook):
        self.c = consultation
        self.rulebook = rulebook
        self.vocabulary = rulebook.vocabulary
        self.facts = list(consultation.facts)
        self.by_id = {f.id: f for f in self.facts}
        self.declared_by = {fid: firings[0] for fid, firings in declared_by(consultation.trace).items()}
        self.fired = consultation.fired_rules()
        self._derivations: dict[int, Derivation] = {}
        self._explained: set[str] = set()   # producers whose why-not is already shown

    # facts and tests
    def fact(self, fact: Fact, derive: bool = True) -> FactInfo:
        info = FactInfo(fact.id, fact.type, dict(fact.fields), fact.origin, describe_fact(fact))
        if derive and fact.id in self.declared_by:
            info.derivation = self.derivation(self.declared_by[fact.id])
        return info

    def path(self, fact_type: str, field_name: str, origin: str = "") -> str:
        """Where an answer lives in a profile: ``routine[0].per_week``, ``goals``, ``hair.type``."""
        ftype = self.vocabulary.types.get(fact_type)
        if ftype is None or ftype.derived:
            return f"{fact_type}.{field_name}"
        base = origin[len("profile:"):] if origin.startswith("profile:") else ftype.section
        if ftype.list_field:
            return base
        return f"{base}.{field_name}"

    def test(self, outcome: TestOutcome) -> TestInfo:
        t = outcome.test
        return TestInfo(t.field, describe_test(t, outcome.bound), outcome.actual, outcome.passed,
                        "" if outcome.passed else wanted(t, outcome.actual, outcome.bound))

    # why it fired
    def derivation(self, firing: Firing) -> Derivation:
        cached = self._derivations.get(firing.seq)
        if cached is not None:
            return cached
        rule = self.rulebook.by_id[firing.rule]
        variant = rule.variants()[firing.variant]
        matched = iter(firing.facts)
        conditions = []
        bindings: dict = {}
        for number, cond in enumerate(variant, 1):
            if isinstance(cond, Pattern):
                fact = self.by_id[next(matched)]
                tests = outcomes(cond, fact, bindings)
                for o in tests:
                    if o.test.op == "bind" and o.passed:
                        bindings.setdefault(o.test.value.name, o.actual)
                conditions.append(ConditionInfo(number, "pattern", describe_condition(cond), True,
                                                facts=[self.fact(fact)],
                                                tests=[self.test(o) for o in tests]))
            else:
                conditions.append(ConditionInfo(number, "not", describe_condition(cond), True))
        result = Derivation(
            seq=firing.seq, rule=rule.id, title=rule.title, kind=rule.kind,
            alternative=firing.variant + 1, bindings=dict(firing.bindings), conditions=conditions,
            declared=[self.fact(self.by_id[i], derive=False) for i in firing.declared],
            because=rule.because, sources=[dict(s) for s in rule.sources],
            alternatives=len(rule.variants()))
        self._derivations[firing.seq] = result
        return result

    # why it did not fire
    def why_not(self, rule: Rule, depth: int, visiting: frozenset) -> list[Alternative] | None:
        failures = why_not(rule, self.facts)
        if failures is None:
            return None
        return [self.alternative(rule, f, depth, visiting | {rule.id}) for f in failures]

    def alternative(self, rule: Rule, failure: Failure, depth: int, visiting: frozenset) -> Alternative:
        variant = rule.variants()[failure.variant]
        conditions = []
        matched = iter(failure.passed[0][0]) if failure.passed else iter(())
        for number, cond in enumerate(variant[:failure.index], 1):
            if isinstance(cond, Pattern):
                fact = next(matched)
                conditions.append(ConditionInfo(number, "pattern", describe_condition(cond), True,
                                                facts=[self.fact(fact, derive=False)]))
            else:
                conditions.append(ConditionInfo(number, "not", describe_condition(cond), True))
        conditions.append(self.failed(failure, depth, visiting))
        return Alternative(failure.variant + 1, conditions)

    def failed(self, failure: Failure, depth: int, visiting: frozenset) -> ConditionInfo:
        cond = failure.condition
        number = failure.index + 1
        if isinstance(cond, Not):
            blocking = list({f.id: f for combo in failure.blocking for f in combo}.values())
            blocked_by = sorted({f.origin[5:] for f in blocking if f.origin.startswith("rule:")})
            blocked_by += sorted({f.origin for f in blocking if not f.origin.startswith("rule:")})
            return ConditionInfo(number, "not", describe_condition(cond), False,
                                 facts=[self.fact(f) for f in blocking], blocked_by=blocked_by)
        info = ConditionInfo(number, "pattern", describe_condition(cond), False)
        info.candidates = []
        for c in failure.candidates:
            failed = self.test(c.failed)
            failed.wanted = field_wanted(cond, c.failed.test.field, c.failed.actual, failure.bindings)
            info.candidates.append(CandidateInfo(self.fact(c.fact, derive=False), failed))
        ftype = self.vocabulary.types.get(cond.type)
        derived = ftype is None or ftype.derived
        if not failure.candidates:
            if derived:
                info.missing = f"no rule concluded a {cond.type} fact"
            elif ftype.many:
                info.missing = f"the profile has no {ftype.section} entries"
            else:
                info.missing = f"the profile has no {ftype.section} answers"
        if not derived:
            info.answer = self.answer(cond, failure)
        else:
            info.producers = self.producers(cond, depth, visiting)
            if not info.producers and not info.missing:
                info.missing = f"no rule in the knowledge base concludes a {cond.type} fact like this"
            elif not info.producers:
                info.missing += "; no rule in the knowledge base concludes one like this"
        return info

    def answer(self, pattern: Pattern, failure: Failure) -> str:
        """What answer would let this pattern hold (for a pattern on the client's answers)."""
        ftype = self.vocabulary.types[pattern.type]
        if failure.candidates:
            # Change the candidate that gets furthest, on each field it fails.
            best = max(failure.candidates,
                       key=lambda c: sum(o.passed for o in outcomes(pattern, c.fact, failure.bindings)))
            fact = best.fact
            fields = [o.test.field for o in outcomes(pattern, fact, failure.bindings) if not o.passed]
            return "; ".join(f"{self.path(fact.type, name, fact.origin)}: "
                             f"{field_wanted(pattern, name, fact.fields.get(name, MISSING), failure.bindings)}"
                             for name in dict.fromkeys(fields))
        where = f"{ftype.section}[new entry]" if ftype.many else ftype.section
        parts = []
        for name in dict.fromkeys(t.field for t in pattern.tests):
            path = where if ftype.list_field else f"{where}.{name}"
            parts.append(f"{path}: {field_wanted(pattern, name, MISSING, failure.bindings)}")
        return "; ".join(parts) if parts else f"answer the {ftype.section} questions"

    def producers(self, pattern: Pattern, depth: int, visiting: frozenset) -> list[ProducerInfo]:
        result = []
        for rule in rules_concluding(self.rulebook.rules, pattern):
            if rule.id in self.fired:
                made = sorted({describe_fact(self.by_id[i]) for f in self.c.trace if f.rule == rule.id
                               for i in f.declared}
                              | {describe_fact(fact) for fact in self.facts
                                 if fact.origin == f"rule:{rule.id}"})
                note = "fired, but what it concluded does not pass this condition" + (
                    f" ({'; '.join(made)})" if made else "")
                result.append(ProducerInfo(rule.id, rule.title, True, note))
                continue
            if rule.id in self._explained:
                result.append(ProducerInfo(rule.id, rule.title, False,
                                           "did not fire (explained earlier in this explanation)"))
                continue
            if rule.id in visiting:
                result.append(ProducerInfo(rule.id, rule.title, False,
                                           "did not fire (it depends on this same condition)"))
                continue
            if depth <= 0:
                result.append(ProducerInfo(rule.id, rule.title, False,
                                           f"did not fire (run 'haircare explain' on {rule.id} for why)"))
                continue
            self._explained.add(rule.id)
            alternatives = self.why_not(rule, depth - 1, visiting)
            if alternatives is None:  # pragma: no cover - only if the two engines disagree
                result.append(ProducerInfo(rule.id, rule.title, False,
                                           "did not fire, although its conditions hold"))
                continue
            first = alternatives[0].failed
            result.append(ProducerInfo(rule.id, rule.title, False,
                                       f"did not fire: condition {first.number} ({first.text}) is not met",
                                       alternatives))
        return result


# -- words ------------------------------------------------------------------------------------
def describe_condition(cond) -> str:
    """A condition in words (``no red-flag fact`` rather than ``no a red-flag fact``)."""
    return cond.describe()


def describe_test(test: Test, bound: Any = MISSING) -> str:
    if test.op == "bind":
        if bound is MISSING:
            return f"{test.field} is any value (kept as {test.value})"
        return f"{test.field} is {test.value} (= {show_value(bound)})"
    return test.describe()


def field_wanted(pattern: Pattern, name: str, actual: Any, bindings: dict) -> str:
    """What one field needs to pass every test the pattern makes on it."""
    tests = [t for t in pattern.tests if t.field == name]
    words = []
    for t in tests:
        bound = bindings.get(t.value.name, MISSING) if t.op == "bind" else MISSING
        if t.op == "bind" and bound is MISSING and len(tests) > 1:
            continue  # "any answer" says nothing the other tests do not
        words.append(wanted(t, actual, bound))
    return " and ".join(dict.fromkeys(words))


def wanted(test: Test, actual: Any = MISSING, bound: Any = MISSING) -> str:
    """The answer that would pass ``test``, in words (given the value it has now)."""
    op, value = test.op, test.value
    have = actual if isinstance(actual, tuple) else ()
    if op == "bind":
        return f"the same value as {test.value} ({show_value(bound)})" if bound is not MISSING else "any answer"
    if op == "eq":
        return show_value(value)
    if op == "ne":
        return f"an answer other than {show_value(value)} (and not unknown)"
    if op == "in":
        return f"one of {join_words(value, 'or')}"
    if op == "not_in":
        return f"none of {join_words(value, 'or')} (and not unknown)"
    if op == "contains":
        return f"a list that includes {value}"
    if op == "contains_any":
        return f"a list that includes {join_words(value, 'or')}"
    if op == "contains_all":
        lacking = [v for v in value if v not in have] or list(value)
        return f"a list that includes {join_words(value)}" + (
            f" (add {join_words(lacking)})" if have and len(lacking) < len(value) else "")
    if op == "contains_none":
        present = [v for v in value if v in have]
        return f"a list without {join_words(value, 'or')}" + (f" (remove {join_words(present)})" if present else "")
    if op == "empty":
        return "an empty list (none)" if value else "a list with at least one item"
    if op == "lt":
        return f"a number below {value} ({value - 1} or less)"
    if op == "le":
        return f"{value} or less"
    if op == "gt":
        return f"a number above {value} ({value + 1} or more)"
    if op == "ge":
        return f"{value} or more"
    if op == "known":
        return "any answer except unknown" if value else "unknown"
    return test.describe()  # pragma: no cover - every operator is handled above
