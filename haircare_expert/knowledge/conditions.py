"""Rule conditions as plain data, and their meaning in plain Python.

The rulebook loader parses a rule's ``when`` into these objects. Two things read them:

* the engine module compiles them onto experta (Rete), using the predicates built here;
* :func:`matches` evaluates them directly against a list of facts (no Rete), for
  explanations and as a second, naive engine that the Rete results are checked against.

Semantics shared by both: a test on a field the fact does not have never matches, and the
answer ``unknown`` satisfies no test except equality with ``unknown`` and ``known: false``.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import product as _cartesian
from typing import Any

from haircare_expert.model import UNKNOWN, Fact

#: Field-test operators and the kind of operand each takes.
SCALAR_OPS = ("eq", "ne")
LIST_OPS = ("in", "not_in", "contains_any", "contains_all", "contains_none")
NUMBER_OPS = ("lt", "le", "gt", "ge")
SET_OPS = ("contains", "contains_any", "contains_all", "contains_none", "empty")
OPS = ("eq", "ne", "in", "not_in", "contains", "contains_any", "contains_all", "contains_none",
       "empty", "lt", "le", "gt", "ge", "known", "bind")
OP_WORDS = {"eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of",
            "contains": "includes", "contains_any": "includes any of",
            "contains_all": "includes all of", "contains_none": "includes none of",
            "empty": "is empty", "lt": "is less than", "le": "is at most",
            "gt": "is more than", "ge": "is at least", "known": "is known", "bind": "is"}


@dataclass(frozen=True)
class Var:
    """A shared variable (``?name`` in a rule file)."""

    name: str

    def __str__(self) -> str:
        return f"?{self.name}"


@dataclass(frozen=True)
class Test:
    """One field test: ``field op value``. ``op == 'bind'`` binds or compares a variable."""

    field: str
    op: str
    value: Any

    def describe(self) -> str:
        if self.op == "empty":
            return f"{self.field} {'is empty' if self.value else 'is not empty'}"
        if self.op == "known":
            return f"{self.field} {'is known' if self.value else 'is unknown'}"
        value = ", ".join(map(str, self.value)) if isinstance(self.value, tuple) else str(self.value)
        return f"{self.field} {OP_WORDS[self.op]} {value}"

    def predicate(self) -> Callable[[Any], bool]:
        return make_predicate(self.op, self.value)


@dataclass(frozen=True)
class Pattern:
    """A fact of ``type`` whose fields pass every test."""

    type: str
    tests: tuple[Test, ...]
    line: int = 0

    def describe(self) -> str:
        if not self.tests:
            return f"a {self.type} fact"
        return f"{self.type}: " + " and ".join(t.describe() for t in self.tests)


@dataclass(frozen=True)
class Not:
    """No combination of facts matches all of ``body`` (patterns, joined on shared variables)."""

    body: tuple[Pattern, ...]
    line: int = 0

    def describe(self) -> str:
        # "no red-flag fact", "no uses: product is hair_serum"
        return "no " + " together with ".join(
            f"{p.type} fact" if not p.tests else p.describe() for p in self.body)


@dataclass(frozen=True)
class AnyOf:
    """At least one of the alternatives (each a conjunction of conditions) holds."""

    alternatives: tuple[tuple[Condition, ...], ...]
    line: int = 0

    def describe(self) -> str:
        return "any of: " + " | ".join(
            "; ".join(c.describe() for c in alt) for alt in self.alternatives)


Condition = Pattern | Not | AnyOf


# typed: 1 == True hashes alike, and an untyped cache handed `per_week: 1` the predicate built
# for `True` (which then never matched the number 1)
@lru_cache(maxsize=None, typed=True)
def make_predicate(op: str, value: Any) -> Callable[[Any], bool]:
    """Build (once per distinct test) the predicate a field value must pass.

    Identical tests share one function object, so the Rete network shares their alpha nodes.
    """
    if op == "eq":
        def test(v):
            return v == value and type(v) is type(value)
    elif op == "ne":
        def test(v):
            return v != UNKNOWN and not (v == value and type(v) is type(value))
    elif op == "in":
        allowed = frozenset(value)
        def test(v):
            return not isinstance(v, (tuple, bool)) and v in allowed
    elif op == "not_in":
        banned = frozenset(value)
        def test(v):
            return v != UNKNOWN and not isinstance(v, tuple) and v not in banned
    elif op == "contains":
        def test(v):
            return isinstance(v, tuple) and value in v
    elif op == "contains_any":
        wanted = frozenset(value)
        def test(v):
            return isinstance(v, tuple) and not wanted.isdisjoint(v)
    elif op == "contains_all":
        wanted = frozenset(value)
        def test(v):
            return isinstance(v, tuple) and wanted.issubset(v)
    elif op == "contains_none":
        banned = frozenset(value)
        def test(v):
            return isinstance(v, tuple) and banned.isdisjoint(v)
    elif op == "empty":
        def test(v):
            return isinstance(v, tuple) and (len(v) == 0) == value
    elif op in NUMBER_OPS:
        # operator.* raise on a non-number instead of returning a truthy NotImplemented
        compare = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}[op]
        def test(v):
            return isinstance(v, int) and not isinstance(v, bool) and compare(v, value)
    elif op == "known":
        def test(v):
            return (v != UNKNOWN) == value
    else:  # pragma: no cover - the loader only builds the ops above
        raise ValueError(f"unknown operator {op!r}")
    test.__name__ = f"{op}_{value}"
    return test


def variants(when: Sequence[Condition]) -> list[tuple[Pattern | Not, ...]]:
    """Expand ``any`` into its alternatives: a list of flat conjunctions (disjunctive form)."""
    parts: list[list[tuple]] = []
    for cond in when:
        if isinstance(cond, AnyOf):
            options = []
            for alt in cond.alternatives:
                options.extend(variants(alt))
            parts.append(options)
        else:
            parts.append([(cond,)])
    return [tuple(c for chunk in combo for c in chunk) for combo in _cartesian(*parts)]


def test_value(test: Test, value: Any, bindings: dict) -> dict | None:
    """Apply one test to a value; return the (possibly extended) bindings, or None if it fails."""
    if test.op == "bind":
        name = test.value.name
        if name in bindings:
            bound = bindings[name]
            return bindings if (bound == value and type(bound) is type(value)) else None
        return {**bindings, name: value}
    return bindings if test.predicate()(value) else None


def match_pattern(pattern: Pattern, fact: Fact, bindings: dict) -> dict | None:
    """Bindings after ``fact`` matches ``pattern`` under ``bindings``, or None."""
    if fact.type != pattern.type:
        return None
    for test in pattern.tests:
        if test.field not in fact.fields:
            return None
        bindings = test_value(test, fact.fields[test.field], bindings)
        if bindings is None:
            return None
    return bindings


def matches(conjunction: Sequence[Pattern | Not], facts: Sequence[Fact],
            bindings: dict | None = None) -> Iterator[tuple[tuple[Fact, ...], dict]]:
    """Every way the flat conjunction matches ``facts``: (matched facts, bindings)."""
    yield from _match(tuple(conjunction), facts, bindings or {}, ())


def _match(conds, facts, bindings, matched):
    if not conds:
        yield matched, bindings
        return
    head, rest = conds[0], conds[1:]
    if isinstance(head, Not):
        if next(_match(head.body, facts, bindings, ()), None) is None:
            yield from _match(rest, facts, bindings, matched)
        return
    for fact in facts:
        new = match_pattern(head, fact, bindings)
        if new is not None:
            yield from _match(rest, facts, new, matched + (fact,))
