"""A consultation: profile in, explained advice out.

:class:`Advisor` loads the rulebook and compiles the engine once; :meth:`Advisor.consult`
runs one client and assembles the :class:`~haircare_expert.model.Consultation` that every
report format, explanation and audit reads.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from haircare_expert.consult import plan as plan_stage
from haircare_expert.consult.schedule import plan
from haircare_expert.engine.compiler import Engine
from haircare_expert.errors import EngineError
from haircare_expert.knowledge import ruletext
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import ADVICE_KINDS, Advice, Conflict, Consultation, Fact, Firing

_KIND_RANK = {kind: i for i, kind in enumerate(ADVICE_KINDS)}


@cache
def _labels() -> Vocabulary:
    return Vocabulary.load()


def _label_filter(value, field: str) -> str:
    # `{{ product | label('product') }}`: a bound value in client words (facts/vocabulary.yaml).
    # Bound lists arrive joined with ", " (render_text); each part is labelled.
    parts = [p.strip() for p in str(value).split(",")]
    return ", ".join(_labels().label(field, p) for p in parts)


@cache
def _text_environment():
    # Rule text may show client values ("you use it {{ per_week }} times a week"); it is rendered
    # in a sandbox so a rule file can never reach Python objects. Built on first use: a
    # consultation whose advice has no such text does not pay for the sandbox.
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["label"] = _label_filter
    return env


@cache
def _text_template(text: str):
    return _text_environment().from_string(text)


@lru_cache(maxsize=4096, typed=True)
def _plan(entries: tuple, washes, heat) -> dict[str, tuple[str, ...]]:
    # The weekly calendar depends on the entries and the wash and heat counts only, and the
    # same few come back client after client: work each out once.
    return {day: tuple(items) for day, items in plan(entries, washes, heat).items()}


def _week(entries: list, washes, heat=None) -> dict[str, list[str]]:
    # ScheduleEntry is frozen and the counts a number or 'unknown': all hashable
    return {day: list(items) for day, items in _plan(tuple(entries), washes, heat).items()}


#: Rule texts filled in: (rule's id(), text, typed values) -> (rule, filled text). The same few
#: products and counts come back client after client, and a Jinja render costs tens of
#: microseconds; the entry keeps its rule, so an id is never mistaken for another rule's.
_FILLED: dict[tuple, tuple[Rule, str]] = {}
_FILLED_MAX = 8192


def render_text(rule: Rule, text: str, bindings: dict) -> str:
    if "{" not in text:
        return text
    # the type is part of the key: 1, 1.0 and True are equal keys but not the same text; a list
    # is keyed (and shown) as its text
    key: tuple | None = (id(rule), text, tuple([(k, str, ", ".join(map(str, v))) if isinstance(v, tuple)
                                                else (k, type(v), v) for k, v in bindings.items()]))
    try:
        hit = _FILLED.get(key)
    except TypeError:           # a value that cannot be a key: fill it in every time
        hit = key = None
    if hit is not None and hit[0] is rule:
        return hit[1]
    values = {k: (", ".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in bindings.items()}
    from jinja2 import TemplateError  # only for text with values in it: most advice has none
    try:
        filled = ruletext.fill(rule, _text_template(text), values)   # length capped as it renders
    except TemplateError as exc:
        raise EngineError(rule.location, f"rule {rule.id}: its text cannot be filled in: {exc}") from None
    if key is not None:
        if len(_FILLED) >= _FILLED_MAX:
            _FILLED.clear()
        _FILLED[key] = (rule, filled)
    return filled


class _AdviceRule(NamedTuple):
    """What assembling the advice reads of one rule, worked out once per rulebook (a named
    tuple: a frozen dataclass costs a cold start ~1.4 ms to define)."""

    rule: Rule
    gives_advice: bool      #: its kind is one of the advice kinds (else it only derives facts)
    fixed: bool             #: its advice text and steps have no values to fill in


def _advice_rules(rulebook: Rulebook) -> dict[str, _AdviceRule]:
    return {r.id: _AdviceRule(r, r.kind in _KIND_RANK, "{" not in r.advise and not any("{" in s for s in r.steps))
            for r in rulebook.rules}


class Advisor:
    """The knowledge base compiled once, ready to advise any number of clients."""

    def __init__(self, rulebook: Rulebook | None = None, extra_rules: Iterable[str] = ()):
        self.rulebook = rulebook or Rulebook.load(extra_rules)
        self.vocabulary = self.rulebook.vocabulary
        self.engine = Engine(self.rulebook)

    def consult_file(self, path: str | Path) -> Consultation:
        """Advise the client described by a profile file (YAML or JSON)."""
        client, facts = self.vocabulary.load_profile(path)
        return self.consult_facts(client, facts)

    def consult(self, profile: Any, where: str = "profile") -> Consultation:
        """Advise the client described by a profile document (already parsed)."""
        client, facts = self.vocabulary.profile_facts(profile, where)
        return self.consult_facts(client, facts)

    def consult_facts(self, client: dict, facts: Sequence[Fact]) -> Consultation:
        """Advise from input facts directly (used by the interview and replay)."""
        all_facts, trace = self.engine.run(facts)
        return assemble(self.rulebook, client, all_facts, trace)


def assemble(rulebook: Rulebook, client: dict, facts: list[Fact], trace: list[Firing]) -> Consultation:
    """Turn the facts and firings of a run into advice, the plan, the week-1 calendar, the
    wash-day order and conflicts (the plan stage decides what the first week holds)."""
    advice: dict[tuple[str, str], Advice] = {}
    conflicts: dict[str, Conflict] = {}
    staged = plan_stage.build(rulebook, facts, trace)     # read, never changed
    rules = rulebook.derived(_advice_rules)
    for firing in trace:
        info = rules[firing.rule]
        rule = info.rule
        if rule.conflict and rule.conflict["topic"] not in conflicts:
            conflicts[rule.conflict["topic"]] = Conflict(rule=rule.id, **rule.conflict)
        if not info.gives_advice:
            continue
        text = rule.advise if info.fixed else render_text(rule, rule.advise, firing.bindings)
        key = (rule.id, text)
        if key in advice:
            merged = advice[key].matched_facts
            merged.extend(f for f in firing.facts if f not in merged)
            continue
        advice[key] = Advice(
            rule=rule.id, kind=rule.kind, title=rule.title, text=text,
            steps=list(rule.steps) if info.fixed else [render_text(rule, s, firing.bindings) for s in rule.steps],
            because=rule.because, sources=list(map(dict, rule.sources)),
            matched_facts=list(firing.facts), fired=firing.seq, salience=rule.salience)
    ordered = sorted(advice.values(), key=lambda a: (_KIND_RANK[a.kind], -a.salience, a.rule, a.fired))
    habits = next((f.fields for f in facts if f.type == "habits"), {})
    washes, heat = habits.get("washes_per_week"), habits.get("heat_styling_per_week")
    return Consultation(
        client={"name": client.get("name", ""), "consultant": client.get("consultant", ""),
                "date": client.get("date", "")},
        knowledge_base=rulebook.summary(),
        advice=ordered,
        schedule=_week(staged.week_entries, washes, staged.heat_days if staged.heat_days is not None else heat),
        wash_day_order=plan_stage.wash_day_order(staged.wash_steps),
        plan=staged.steps,
        conflicts=sorted(conflicts.values(), key=lambda c: c.topic),
        facts=list(facts),
        trace=list(trace),
        rulebook=rulebook,
    )


@lru_cache(maxsize=4)
def _shared_rulebook(rules_dirs: tuple) -> Rulebook:
    from haircare_expert.knowledge.cache import load_rulebook  # Rulebook.load, cached (verified)
    return load_rulebook(rules_dirs)


@lru_cache(maxsize=4)
def _shared_advisor(rules_dirs: tuple) -> Advisor:
    return Advisor(_shared_rulebook(rules_dirs))


def shared_rulebook(rules_dirs: Iterable[str] = ()) -> Rulebook:
    """The rules of these folders (with the shipped ones) loaded once per process."""
    return _shared_rulebook(tuple(rules_dirs))


def shared_advisor(rules_dirs: Iterable[str] = ()) -> Advisor:
    """The knowledge base of these folders compiled once per process: every command and the web
    app of one process share it."""
    return _shared_advisor(tuple(rules_dirs))
