"""What the planner reads of a walk at the top: each rule's own result (the rules that can
still fire, and the items their answers come from, see :mod:`.walk`), kept between answers as
counts per item, so that an answer costs the rules whose results changed rather than every
rule; and the answers the rules wait on, as a plan reads them (:class:`Wanted`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Standing:
    """Each rule that can still fire, by its place in rule order, and per item the places of
    the rules that have it (the smallest one is the order its answers are asked in)."""

    def __init__(self) -> None:
        self.rules: dict[int, tuple] = {}           # place -> (rule id, items, red flag)
        self.places: dict[Any, set[int]] = {}       # item -> places of the rules with it
        self.smallest: dict[Any, int] = {}          # item -> its smallest place, once worked out
        self.red: dict[Any, int] = {}               # item -> how many red-flag rules have it

    def clear(self) -> None:
        for known in (self.rules, self.places, self.smallest, self.red):
            known.clear()

    def put(self, place: int, rule: tuple | None) -> None:
        """The rule at ``place`` is now ``rule`` ((rule id, items, red flag)), or None when it
        cannot fire."""
        old = self.rules.get(place)
        if old == rule:
            return
        if old is not None:
            del self.rules[place]
            self._count(place, old, -1)
        if rule is not None:
            self.rules[place] = rule
            self._count(place, rule, 1)

    def _count(self, place: int, rule: tuple, step: int) -> None:
        places, smallest, red = self.places, self.smallest, self.red
        _, items, flag = rule
        for item in items:
            if step > 0:
                places.setdefault(item, set()).add(place)
                if smallest.get(item, place) > place:
                    smallest[item] = place
            else:
                at = places[item]
                at.discard(place)
                if not at:
                    del places[item]
                    smallest.pop(item, None)
                elif smallest.get(item) == place:
                    del smallest[item]
            if flag:
                count = red.get(item, 0) + step
                if count:
                    red[item] = count
                else:
                    del red[item]

    def first(self, item) -> int:
        """The smallest place of a rule with ``item``."""
        place = self.smallest.get(item)
        if place is None:
            place = self.smallest[item] = min(self.places[item])
        return place


@dataclass
class Wanted:
    """The answers the rules wait on, as a plan reads them: the keys in the order the rules
    first wait on them, the keys a red-flag rule waits on, and what gives the rules behind each
    key (:meth:`waiting`) when someone asks."""

    keys: dict                                  # key -> None, in order
    red: set
    alive: dict                                 # place -> (rule id, items, red flag) of each rule that can fire
    via: dict                                   # item -> the answers it stands for
    live: frozenset                             # the keys that still count (see walk.live)
    added: list = field(default_factory=list)   # (key, rule id) added after, in order
    dropped: list = field(default_factory=list)     # keys taken out after
    shared: list = field(default_factory=list)  # (key, from key): the rules of one added to another

    def waiting(self, rank: dict) -> dict[str, list[str]]:
        """Answer key -> the rules (in rank order) that wait on it."""
        waiting: dict[str, list[str]] = {}
        via = self.via
        live = self.live
        for _, (rule_id, items, _) in sorted(self.alive.items()):
            for key in sorted(set().union(*(via[i] for i in items)) & live):
                waiting.setdefault(key, []).append(rule_id)
        for key, rule_id in self.added:
            if rule_id not in waiting.setdefault(key, []):
                waiting[key].append(rule_id)
        for key in self.dropped:
            del waiting[key]
        for ref, key in self.shared:
            waiting.setdefault(ref, [])
            for rid in waiting[key]:
                if rid not in waiting[ref]:
                    waiting[ref].append(rid)
        return {k: sorted(v, key=rank.__getitem__) for k, v in waiting.items()}
