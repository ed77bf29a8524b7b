"""A rule as data: its parts (schedule entries, wash-day steps, declarations), the rule itself and
a source of the catalogue; the words a rule file may use."""
from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from haircare_expert.errors import Location
from haircare_expert.knowledge.conditions import (
    Condition,
    Not,
    Pattern,
    variants,
)

ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
VAR_RE = re.compile(r"^\?([a-z_][a-z0-9_]*)$")
RULE_KEYS = {"id", "title", "kind", "salience", "when", "then", "because", "sources", "tags",
             "examples", "conflict"}
THEN_KEYS = {"advise", "steps", "declare", "schedule", "wash_day"}
#: ``heat``: on the days the client styles with heat (as many as she does), see consult/schedule.py.
SCHEDULE_DAYS = ("wash", "between", "any", "daily", "heat")
#: Environment variable naming extra rule folders (separated like PATH).
RULES_ENV = "HAIRCARE_RULES"
#: More alternatives than this in one rule is a modelling mistake (and slow in a Rete network).
MAX_VARIANTS = 32
#: The lint code of a missing required key (any other: ``missing-field``).
MISSING_CODES = {"because": "missing-because", "sources": "missing-sources"}


@dataclass(frozen=True)
class ScheduleEntry:
    """A weekly-calendar entry a rule asks for."""

    item: str
    per_week: tuple[int, int]       # (at least, at most) times a week
    days: str                       # wash | between | any | daily
    order: int = 50
    replaces: str = ""              # another item this one stands in for (it is left out)


@dataclass(frozen=True)
class WashStep:
    """A step of the wash-day order, placed by ``order`` (lower comes first)."""

    step: str
    order: int


@dataclass(frozen=True)
class Declaration:
    """A derived fact a rule concludes; values may be variables bound in ``when``."""

    type: str
    fields: tuple[tuple[str, Any], ...]


@dataclass
class Rule:
    """One rule, as loaded and checked."""

    id: str
    title: str
    kind: str
    when: tuple[Condition, ...]
    because: str
    sources: list[dict]
    salience: int = 0
    advise: str = ""
    steps: tuple[str, ...] = ()
    declare: tuple[Declaration, ...] = ()
    schedule: tuple[ScheduleEntry, ...] = ()
    wash_day: tuple[WashStep, ...] = ()
    conflict: dict | None = None
    tags: tuple[str, ...] = ()
    examples: dict = field(default_factory=dict)
    file: str = ""
    line: int = 0
    raw: dict = field(default_factory=dict, repr=False)
    origin: str = "shipped"          # shipped | custom | override
    stratum: int = 0

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def at(self) -> Location:
        """Where the rule is written, as a :class:`Location` (``location`` is the same as text)."""
        return Location(self.file, self.line)

    @functools.cached_property
    def content_hash(self) -> str:
        """A hash of the rule as written: replay compares it to name edited rules."""
        text = json.dumps(self.raw, sort_keys=True, default=str, ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @functools.cached_property
    def _variants(self) -> list[tuple]:
        return variants(self.when)

    def variants(self) -> list[tuple]:
        """The rule's alternatives as flat conjunctions (``any`` expanded), computed once."""
        return self._variants

    def positive_types(self) -> set[str]:
        return {p.type for v in self.variants() for p in v if isinstance(p, Pattern)}

    def negated_types(self) -> set[str]:
        return {p.type for v in self.variants() for n in v if isinstance(n, Not) for p in n.body}

    def concludes(self) -> set[str]:
        return {d.type for d in self.declare}

    def own(self) -> bool:
        return any(s.get("own") for s in self.sources)


@dataclass
class Source:
    id: str
    title: str
    publisher: str
    sections: tuple[str, ...]
    file: str = ""
    url: str = ""


def _text(value) -> bool:
    """A non-empty plain string (what an id, a fact type or a source id must be)."""
    return isinstance(value, str) and bool(value.strip())
