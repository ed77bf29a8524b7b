"""The rule compiler and the inference run: the only module that imports experta.

:class:`Engine` compiles a :class:`~haircare_expert.rulebook.Rulebook` once into an experta
``KnowledgeEngine`` and runs it per consultation with ``reset()``. Every firing is recorded
(rule, matched facts, bindings, facts declared) and every fact keeps its origin.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

from . import _compat  # noqa: F401  (must run before experta is imported)
from experta import AND, AS, NOT, Fact as _ExFact, KnowledgeEngine, P, Rule as _ExRule, W
from experta.strategies import DepthStrategy

from .conditions import Not, Pattern, Var
from .errors import EngineError
from .model import Fact, Firing
from .rulebook import Rule, Rulebook

#: Default cap on firings per consultation; far above what the knowledge base needs.
DEFAULT_FIRING_LIMIT = 5000

# experta logs every match at DEBUG level through these loggers; silence them unless the
# application asks for them (the library never configures logging itself).
for _logger in ("experta", "experta.watchers"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())

_FACT_CLASSES: dict[str, type] = {}


def _fact_class(type_name: str) -> type:
    """One experta Fact subclass per fact type (experta matches on the exact class)."""
    cls = _FACT_CLASSES.get(type_name)
    if cls is None:
        cls = type(f"Fact_{type_name.replace('-', '_')}", (_ExFact,), {"__module__": __name__})
        _FACT_CLASSES[type_name] = cls
    return cls


def _constraint(tests):
    """The experta field constraint for all tests on one field, ANDed."""
    result = None
    for test in tests:
        part = W(f"v_{test.value.name}") if test.op == "bind" else P(test.predicate())
        result = part if result is None else (result & part)
    return result


def _pattern(pattern: Pattern, bind: str | None):
    by_field: dict[str, list] = {}
    for test in pattern.tests:
        by_field.setdefault(test.field, []).append(test)
    fact = _fact_class(pattern.type)(**{f: _constraint(ts) for f, ts in by_field.items()})
    return (getattr(AS, bind) << fact) if bind else fact


class _Run:
    """Per-consultation bookkeeping shared by the compiled actions."""

    def __init__(self, limit: int):
        self.limit = limit
        self.facts: list[Fact] = []
        self.ids: dict[int, str] = {}        # experta fact id -> our id
        self.by_key: dict[tuple, str] = {}   # content identity -> our id
        self.trace: list[Firing] = []


class Engine:
    """A rulebook compiled onto experta: build once, :meth:`run` per client."""

    def __init__(self, rulebook: Rulebook, firing_limit: int = DEFAULT_FIRING_LIMIT):
        self.rulebook = rulebook
        self.firing_limit = firing_limit
        self._run: _Run | None = None
        members: dict[str, Any] = {}
        # Unique saliences, strata first: derivations a negation depends on always fire before
        # it, and the agenda order (so the trace) is the same on every run.
        order = sorted(rulebook.rules, key=lambda r: (r.stratum, -r.salience, r.id))
        top = len(order)
        for rank, rule in enumerate(order):
            for index, variant in enumerate(rule.variants()):
                members[f"r{rank}_{index}"] = self._compile(rule, index, variant, top - rank)
        engine_cls = type("CompiledKnowledge", (KnowledgeEngine,), {
            **members, "__strategy__": DepthStrategy, "__module__": __name__})
        self._engine = engine_cls()

    def _compile(self, rule: Rule, variant_no: int, variant: Sequence, salience: int):
        lhs = []
        positive = 0
        for cond in variant:
            if isinstance(cond, Pattern):
                lhs.append(_pattern(cond, f"_f{positive}"))
                positive += 1
            else:
                body = [_pattern(p, None) for p in cond.body]
                lhs.append(NOT(body[0] if len(body) == 1 else AND(*body)))
        count = positive
        outer = self

        def action(engine, **context):
            outer._fire(rule, variant_no, [context[f"_f{i}"] for i in range(count)],
                        {k[2:]: v for k, v in context.items() if k.startswith("v_")})

        action.__name__ = rule.id.replace("-", "_")
        return _ExRule(*lhs, salience=salience)(action)

    # -- running ---------------------------------------------------------------------------
    def run(self, facts: Sequence[Fact]) -> tuple[list[Fact], list[Firing]]:
        """Run the rules on the input facts; return (all facts with ids, firing trace)."""
        run = self._run = _Run(self.firing_limit)
        engine = self._engine
        try:
            engine.reset()
            for fact in facts:
                self._declare(fact)
            engine.run(self.firing_limit)
            if engine.agenda.activations:
                pending = engine.agenda.activations[-1].rule._wrapped.__name__.replace("_", "-")
                raise EngineError(pending, f"stopped after {self.firing_limit} rule firings: the rules keep firing each other (a runaway cycle)")
        except EngineError:
            raise
        except Exception as exc:  # an action or predicate fault must not leave the engine running
            raise EngineError("engine", f"inference failed: {type(exc).__name__}: {exc}") from exc
        finally:
            engine.running = False
            self._run = None
        return run.facts, run.trace

    def _declare(self, fact: Fact, origin: str | None = None) -> tuple[str, bool]:
        run = self._run
        key = fact.key()
        if key in run.by_key:
            return run.by_key[key], False
        declared = self._engine.declare(_fact_class(fact.type)(**fact.fields))
        our_id = f"f-{len(run.facts) + 1}"
        run.ids[declared.__factid__] = our_id
        run.by_key[key] = our_id
        run.facts.append(Fact(fact.type, dict(fact.fields), origin or fact.origin, our_id))
        return our_id, True

    def _fire(self, rule: Rule, variant: int, matched: list, bindings: dict) -> None:
        run = self._run
        seq = len(run.trace) + 1
        declared = []
        for decl in rule.declare:
            fields = {name: (bindings[value.name] if isinstance(value, Var) else value)
                      for name, value in decl.fields}
            fid, new = self._declare(Fact(decl.type, fields, f"rule:{rule.id}"))
            if new:
                declared.append(fid)
        run.trace.append(Firing(seq, rule.id, tuple(run.ids[f.__factid__] for f in matched),
                                dict(bindings), tuple(declared), variant))
