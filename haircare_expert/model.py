"""Plain data objects shared by every part: facts, firings, advice and the consultation result.

Nothing here knows about experta, YAML or templates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: Advice kinds in the order a report lists them (safety first).
ADVICE_KINDS = ("referral", "warning", "recommendation", "how-to", "schedule", "note")
#: The kind of a rule that only concludes derived facts and gives no advice of its own.
DERIVE = "derive"
RULE_KINDS = ADVICE_KINDS + (DERIVE,)
#: The answer accepted for any question.
UNKNOWN = "unknown"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


#: Types that are JSON data as they are (and have no ``to_json``): returned at once.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def json_value(value: Any) -> Any:
    """A value as JSON data: objects through their ``to_json``, tuples as lists, mappings copied."""
    kind = type(value)
    if kind in _PLAIN:      # most values: a batch writes tens of thousands a second
        return value
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else json_value(v) for v in value]
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN else json_value(v) for k, v in value.items()}
    return value


class JsonFields:
    """Dataclass mixin: ``to_json`` writes the fields in their declared order.

    Field metadata adjusts it: ``{"json": False}`` leaves a field out, ``{"key": "x"}`` writes it
    under another name, ``{"sort": True}`` writes a mapping with its keys sorted.
    """

    def to_json(self) -> dict:
        return _json_writer(type(self))(self)


#: Per class, its ``to_json`` as one function (see :func:`_json_writer`).
_JSON_WRITERS: dict[type, Any] = {}
#: Per class, its ``json_view`` as one function (see :func:`_json_writer`).
_VIEW_WRITERS: dict[type, Any] = {}


def _json_writer(cls: type, view: bool = False):
    """``cls``'s fields written out as one dict display, generated once from the field metadata
    (as :mod:`dataclasses` generates ``__init__``): a batch writes tens of thousands of these
    objects a second, and a loop over ``fields()`` reading the metadata of each was most of it.

    With ``view`` the function writes the same members with the values as they are (see
    :meth:`Consultation.json_view`): no value converted, no list copied.
    """
    cache = _VIEW_WRITERS if view else _JSON_WRITERS
    writer = cache.get(cls)
    if writer is None:
        members = []
        for f in fields(cls):
            if f.metadata.get("json", True) is False:
                continue
            if f.metadata.get("sort") and view:
                # no new dict for one in order already (most are empty)
                value = (f"(v if type(v := self.{f.name}) is dict and len(v) < 2 "
                         f"else dict(sorted(v.items())))")
            elif f.metadata.get("sort"):
                # json_value(dict(sorted(...))) without the intermediate dict
                value = (f"{{k: x if type(x) in _PLAIN else _json(x) "
                         f"for k, x in sorted(self.{f.name}.items())}}")
            elif view:
                value = f"self.{f.name}"
            else:
                # json_value(self.x) written out, so the common cases make no call
                value = (f"(v if (t := type(v := self.{f.name})) in _PLAIN else "
                         f"[e if type(e) in _PLAIN else _json(e) for e in v] "
                         f"if t is list or t is tuple else _json(v))")
            members.append(f"{f.metadata.get('key', f.name)!r}: {value},")
        source = "def to_json(self):\n    return {\n" + "\n".join(f"        {m}" for m in members) + "\n    }\n"
        scope: dict = {"_json": json_value, "_PLAIN": _PLAIN}
        kind = "json_view" if view else "to_json"
        exec(compile(source, f"<{kind} of {cls.__qualname__}>", "exec"), scope)   # our own text only
        writer = cache[cls] = scope["to_json"]
    return writer


def _view_writer(kind: type):
    """The function writing a ``kind`` object's :meth:`Consultation.json_view` part, or ``None``
    when ``kind``'s ``to_json`` is not one this module wrote (a subclass's own, one replaced, or
    no ``to_json`` at all): then only ``to_json()`` says what is written."""
    to_json = getattr(kind, "to_json", None)
    if to_json is JsonFields.to_json:
        return _json_writer(kind, view=True)
    if kind is Fact and to_json is _FACT_TO_JSON:
        return _fact_view
    return None


def _list_view(items) -> list | None:
    """``[item.to_json() for item in items]`` as views, or ``None`` if an item has none."""
    if type(items) is not list and type(items) is not tuple:
        return None
    kinds = set(map(type, items))
    writers = {kind: _view_writer(kind) for kind in kinds}
    if None in writers.values():
        return None
    if len(writers) == 1:
        return list(map(writers.popitem()[1], items))
    return [writers[type(item)](item) for item in items]


@dataclass(frozen=True)
class Fact:
    """One fact: its type, its fields (lists frozen to tuples) and where it came from.

    ``origin`` is ``profile:<path>`` for a client answer (``profile:routine[0]``), or
    ``rule:<id>`` for a fact a rule concluded.
    """

    type: str
    fields: dict[str, Any]
    origin: str
    id: str = ""

    def key(self) -> tuple:
        """Identity of the content: equal keys are the same fact (derived facts merge)."""
        return (self.type, tuple(sorted((k, _typed(v)) for k, v in self.fields.items())))

    def to_json(self) -> dict:
        return {"id": self.id, "type": self.type,
                "fields": {k: v if type(v) in _PLAIN else plain(v) for k, v in self.fields.items()},
                "origin": self.origin}


_FACT_TO_JSON = Fact.to_json


def _fact_view(fact: Fact) -> dict:
    return {"id": fact.id, "type": fact.type, "fields": fact.fields, "origin": fact.origin}


def _typed(value):
    # 3 == 3.0 == True in Python: keep the type in the identity so they never merge.
    return (type(value).__name__, value)


def plain(value):
    """A fact value as JSON data (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Firing(JsonFields):
    """One rule firing: the sequence number, the facts matched, the bindings, the facts declared."""

    seq: int
    rule: str
    facts: tuple[str, ...]
    bindings: dict[str, Any] = field(metadata={"sort": True})
    declared: tuple[str, ...]
    variant: int = field(default=0, metadata={"json": False})


@dataclass
class Advice(JsonFields):
    """One line of advice, with the rule, the facts and the sources behind it."""

    rule: str
    kind: str
    title: str
    text: str
    steps: list[str]
    because: str
    sources: list[dict]
    matched_facts: list[str]
    fired: int
    salience: int = field(default=0, metadata={"json": False})


#: What a plan step asks of the client (DESIGN.md, "plan").
PLAN_ACTIONS = ("keep", "change", "add", "pause", "stop")


@dataclass
class PlanStep(JsonFields):
    """One step of the client's plan, in the order she should act on it.

    ``product`` is a vocabulary product id or ``None`` (a practice such as massage);
    ``new`` is true for a product not in her routine; ``start_week`` >= 1 staggers new products.
    """

    step: int
    item: str
    product: str | None
    action: str
    new: bool
    start_week: int
    rule: str
    why: str


@dataclass
class Conflict(JsonFields):
    """A topic on which the sources disagree, and which way the advice goes."""

    topic: str
    sources: list[str]
    resolution: str
    rule: str = field(default="", metadata={"json": False})


@dataclass
class Consultation:
    """Everything a report, an explanation or an audit needs about one consultation."""

    client: dict
    knowledge_base: dict
    advice: list[Advice]
    schedule: dict[str, list[str]]
    wash_day_order: list[str]
    conflicts: list[Conflict]
    facts: list[Fact]
    trace: list[Firing]
    profile: dict = field(default_factory=dict)
    #: The client's plan (what to do, in order, from which week); see :class:`PlanStep`.
    plan: list[PlanStep] = field(default_factory=list)
    #: On a follow-up visit, what changed since the last one (a ``consult.followup.Followup``,
    #: set by whoever knows the last visit; not part of the JSON record). ``None`` otherwise.
    followup: Any = field(default=None, repr=False, compare=False)
    #: The Rulebook that produced this result (not serialised): reports read source titles
    #: and rule conditions from it. ``None`` for a result rebuilt from JSON.
    rulebook: Any = field(default=None, repr=False, compare=False)

    SCHEMA = "haircare-advice/1"

    def fact(self, fact_id: str) -> Fact:
        for fact in self.facts:
            if fact.id == fact_id:
                return fact
        raise KeyError(fact_id)

    def fired_rules(self) -> set[str]:
        return {firing.rule for firing in self.trace}

    def to_json(self) -> dict:
        return {
            "schema": self.SCHEMA,
            "client": dict(self.client),
            "knowledge_base": dict(self.knowledge_base),
            "advice": [a.to_json() for a in self.advice],
            "schedule": {day: list(self.schedule.get(day, [])) for day in WEEKDAYS},
            "wash_day_order": list(self.wash_day_order),
            "plan": [p.to_json() for p in self.plan],
            "conflicts": [c.to_json() for c in self.conflicts],
            "facts": [f.to_json() for f in self.facts],
            "trace": [t.to_json() for t in self.trace],
        }

    def json_view(self) -> dict | None:
        """``to_json()`` without its copies, for an encoder that writes it at once: the same
        members in the same order with the values as they are (a tuple stays a tuple, which JSON
        writes as an array; the record's own lists and mappings, not copies), or ``None`` when
        ``to_json`` or a part's ``to_json`` is not the one this module wrote (looked up on
        the classes: a ``to_json`` assigned to one object is not seen).

        Its text equals ``to_json()``'s only where every value in it is JSON data of the exact
        built-in types (``str``, ``int``, ``float``, ``bool``, ``None``, ``list``, ``tuple``,
        ``dict``): ``to_json()`` converts the rest (an object of ours nested in a field, a
        subclass of ``list``), so an encoder checks the types before it writes a view. Encode
        it before anything changes the record.
        """
        schedule, sequences = self.schedule, (list, tuple)
        if (type(self).to_json is not _CONSULTATION_TO_JSON or type(self.client) is not dict
                or type(self.knowledge_base) is not dict or type(schedule) is not dict
                or type(self.wash_day_order) not in sequences
                or not all(type(schedule.get(day, ())) in sequences for day in WEEKDAYS)):
            return None     # to_json() copies what it is: an iterator once only, say
        parts = [_list_view(items) for items in (self.advice, self.plan, self.conflicts, self.facts, self.trace)]
        if None in parts:
            return None
        advice, plan, conflicts, facts, trace = parts
        return {
            "schema": self.SCHEMA,
            "client": self.client,
            "knowledge_base": self.knowledge_base,
            "advice": advice,
            "schedule": {day: schedule.get(day, ()) for day in WEEKDAYS},
            "wash_day_order": self.wash_day_order,
            "plan": plan,
            "conflicts": conflicts,
            "facts": facts,
            "trace": trace,
        }


_CONSULTATION_TO_JSON = Consultation.to_json
