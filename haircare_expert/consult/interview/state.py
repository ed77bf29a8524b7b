"""What a planning pass reads of the answers and the engine's run (:class:`State`), and what
differs between two such states (:func:`changes`): what a kept walk has to look at again
(see :mod:`.walk`)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haircare_expert.consult.interview.rule_index import RuleIndex
from haircare_expert.knowledge.analysis import declared_by
from haircare_expert.model import Fact, Firing

_ABSENT = object()


def changes(rules: RuleIndex, old: State | None, new: State) -> set | None:
    """What a walk reads that differs between two states (None: too much to say; walk anew)."""
    if old is None or new.tangled or rules.order is None:
        return None
    changed: set = set()
    for key in old.answers.keys() | new.answers.keys():
        if not _same(old.answers.get(key, _ABSENT), new.answers.get(key, _ABSENT)):
            reads = rules.answer_reads(key)
            if reads is None:
                return None
            changed.update(reads)
    changed.update(("fired", rule_id) for rule_id in old.fired ^ new.fired)
    for key in _differ(old.derived, new.derived, False):
        changed.update(("present", index) for index in rules.matching(False, key, old.examples, new.examples))
    for key in _differ(old.shown, new.shown, True):
        changed.update(("holds", index) for index in rules.matching(True, key, old.examples, new.examples))
    return changed


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down (``1`` is not ``True`` to a test)."""
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    return True


def _differ(old: Counter, new: Counter, paired: bool) -> list[tuple]:
    """The fact key of each entry one count has and the other has not (as often); the entries
    are fact keys, or (fact key, something) pairs when ``paired``."""
    return [entry[0] if paired else entry for entry in (old - new) + (new - old)]


# -- what a walk reads of a consultation -----------------------------------------------------------
@dataclass
class State:
    """The answers and the consultation, as a walk reads them, and as two states are compared."""

    answers: dict
    fired: frozenset
    derived: Counter            # fact key of each concluded fact
    shown: Counter              # (fact key, stable) of each fact a one-pattern 'not' looks at
    examples: dict              # fact key -> a fact with that key
    by_type: dict
    derived_by_type: dict
    present: set                # derived patterns a concluded fact matches
    declared_by: dict
    stable: dict                # fact id -> no further answer can take it away
    tangled: bool               # the facts' stability depends on itself (see _stability)

    @classmethod
    def of(cls, rules: RuleIndex, answers: dict, facts: Sequence[Fact], trace: Sequence[Firing],
           fired: set) -> State:
        by_type: dict[str, list[Fact]] = {}
        derived_by_type: dict[str, list[Fact]] = {}
        derived: Counter = Counter()
        examples: dict[tuple, Fact] = {}
        for fact in facts:
            by_type.setdefault(fact.type, []).append(fact)
            if not fact.origin.startswith("profile:"):
                derived_by_type.setdefault(fact.type, []).append(fact)
                key = fact.key()
                derived[key] += 1
                examples[key] = fact
        present = set().union(*(rules.matching(False, key, examples) for key in derived))
        firings = declared_by(trace)
        watched = [f for t in rules.watch_holds for f in by_type.get(t, ())]
        stable, tangled = stability(watched, firings, rules.negates)
        shown: Counter = Counter()
        for fact in watched:
            key = fact.key()
            shown[(key, stable[fact.id])] += 1
            examples[key] = fact
        return cls(dict(answers), frozenset(fired), derived, shown, examples, by_type,
                   derived_by_type, present, firings, stable, tangled)


def stability(facts: list[Fact], firings: dict, negates: dict) -> tuple[dict, bool]:
    """(fact id -> whether no further answer can take the fact away, whether working that out
    met a fact whose stability depends on itself).

    Stable: a client answer, or concluded by rules without 'not' conditions from stable facts.
    Without a circle the answer is the same whatever order facts are asked in, so a walk can
    take it from here; with one it depends on the order, and the walk works it out itself.
    """
    stable: dict[str, bool] = {}
    busy: set[str] = set()
    tangled = False

    def visit(fact_id: str) -> bool:
        nonlocal tangled
        if fact_id in stable:
            return stable[fact_id]
        if fact_id in busy:
            tangled = True
            return False
        busy.add(fact_id)
        found = firings.get(fact_id)
        value = found is None or any(not negates[firing.rule] and all(visit(f) for f in firing.facts)
                                     for firing in found)
        busy.discard(fact_id)
        stable[fact_id] = value
        return value

    for fact in facts:
        visit(fact.id)
    return stable, tangled
