"""The rule compiler and the inference run: rules become an experta ``KnowledgeEngine``.

:class:`Engine` compiles a :class:`~haircare_expert.knowledge.rulebook.Rulebook` once into an
experta ``KnowledgeEngine`` and runs it per consultation with ``reset()``. Every firing is
recorded (rule, matched facts, bindings, facts declared) and every fact keeps its origin.

This module uses experta's public API only (``Fact``, ``Rule``, ``AND``/``NOT``/``AS``/``P``/
``W``, ``KnowledgeEngine``, ``ReteMatcher``); everything that reaches into experta's internals
to make the network fast is in :mod:`haircare_expert.engine.rete`, and the limits that keep a
rule file from exhausting the machine in :mod:`haircare_expert.engine.limits`.

Bounds on one consultation (exit 6, naming the rule, when passed): the rule firings (a runaway
cycle; the limit grows with the rule base, so ten thousand rules that each fire once run), and
the network's :class:`~haircare_expert.engine.rete.Budget` of partial matches and activations.
Each action knows its captured facts, and a declaration without variables its fact's identity,
from compile time.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import fields as dataclass_fields
from typing import Any

# experta is importable: the package __init__ ran _compat first
from experta import AND, AS, NOT, KnowledgeEngine, P, W
from experta import Fact as _ExFact
from experta import Rule as _ExRule
from experta.matchers.rete import ReteMatcher

from haircare_expert.engine import limits
from haircare_expert.engine.freeze import collector_paused
from haircare_expert.engine.rete import (
    PREDICATE_TESTS,
    Budget,
    BudgetExceeded,
    QuickEngine,
    StableDepthStrategy,
    TrackedReteMatcher,
    rule_of,
)
from haircare_expert.errors import EngineError, RuleErrors
from haircare_expert.knowledge.conditions import AnyOf, Not, Pattern, Var
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.model import Fact, Firing

#: The least cap on firings per consultation; far above what the knowledge base needs. The cap
#: of an engine is this plus two firings for every alternative of every rule (see
#: :func:`firing_limit_for`), so it grows with the rule base.
DEFAULT_FIRING_LIMIT = 5000


def firing_limit_for(rulebook: Rulebook) -> int:
    """The firing cap for ``rulebook``: a runaway cycle is stopped, a big honest rule base runs."""
    return DEFAULT_FIRING_LIMIT + 2 * sum(len(rule.variants()) for rule in rulebook.rules)


_FACT_CLASSES: dict[str, type] = {}
#: Value types experta's ``freeze`` returns unchanged (so a fact can be filled without it).
_PLAIN = frozenset({str, int, bool, float, tuple, type(None)})


def _fact_class(type_name: str) -> type:
    """One experta Fact subclass per fact type (experta matches on the exact class)."""
    cls = _FACT_CLASSES.get(type_name)
    if cls is None:
        cls = type(f"Fact_{type_name.replace('-', '_')}", (_ExFact,), {"__module__": __name__, "_replay": None})
        _FACT_CLASSES[type_name] = cls
    return cls


def _constraint(tests):
    """The experta field constraint for all tests on one field, ANDed."""
    result = None
    for test in tests:
        if test.op == "bind":
            part = W(f"v_{test.value.name}")
        else:
            predicate = test.predicate()
            PREDICATE_TESTS[predicate] = (test.op, test.value)
            part = P(predicate)
        result = part if result is None else (result & part)
    return result


def _pattern(pattern: Pattern, bind: str | None):
    by_field: dict[str, list] = {}
    for test in pattern.tests:
        by_field.setdefault(test.field, []).append(test)
    fact = _fact_class(pattern.type)(**{f: _constraint(ts) for f, ts in by_field.items()})
    return (getattr(AS, bind) << fact) if bind else fact


def _patterns(condition):
    """Every pattern in ``condition`` (a pattern, a negation, an ``any``), nested ones too."""
    if isinstance(condition, Pattern):
        yield condition
    elif isinstance(condition, Not):
        yield from condition.body
    elif isinstance(condition, AnyOf):
        for alternative in condition.alternatives:
            for part in alternative:
                yield from _patterns(part)


def _key(type_name: str, fields: Mapping) -> tuple:
    """``model.Fact(type_name, fields, ...).key()``, without building the Fact."""
    return (type_name, tuple(sorted((k, (type(v).__name__, v)) for k, v in fields.items())))


class _Run:
    """Per-consultation bookkeeping shared by the compiled actions.

    Nothing reads a firing's record or a fact's until the run is over, so during the run each
    is a plain tuple, turned into :class:`~haircare_expert.model.Firing` and
    :class:`~haircare_expert.model.Fact` objects once at the end (:meth:`trace`,
    :meth:`all_facts`): a firing keeps the activation's context (never modified once made), and
    the matched facts' ids and the bindings are picked out of it then."""

    def __init__(self, limit: int):
        self.limit = limit
        self.facts: list[tuple] = []         # (type, fields, origin, our id) per fact, in order
        self.ids: dict[int, str] = {}        # id() of the experta fact -> our id
        self.by_key: dict[tuple, str] = {}   # content identity -> our id
        self.records: list[tuple] = []       # ((rule id, variant, binds?, captures), context, declared)
        self.fired: set[tuple] = set()       # (action, matched facts' id()s) fired (stock matcher)

    def trace(self) -> list[Firing]:
        """The firings, in order, as :class:`Firing` objects (built as :func:`_frozen` says)."""
        ids = self.ids
        new = object.__new__
        trace = []
        seq = 0
        for (rule_id, variant, binds, captures), context, declared in self.records:
            seq += 1
            firing = new(Firing)
            state = firing.__dict__
            state["seq"] = seq
            state["rule"] = rule_id
            if len(captures) == 1:      # (a comprehension is a call of its own)
                state["facts"] = (ids[id(context[captures[0]])],)
            elif len(captures) == 2:
                state["facts"] = (ids[id(context[captures[0]])], ids[id(context[captures[1]])])
            else:
                state["facts"] = tuple([ids[id(context[name])] for name in captures])
            state["bindings"] = {k[2:]: v for k, v in context.items() if k[:2] == "v_"} if binds else {}
            state["declared"] = declared
            state["variant"] = variant
            trace.append(firing)
        return trace

    def all_facts(self) -> list[Fact]:
        """Every fact of the run, input first, as :class:`Fact` objects (fields copied)."""
        return _frozen(Fact, _FACT_FIELDS, [(t, dict(fields), o, i) for t, fields, o, i in self.facts])


#: The fields of a Firing, as :meth:`_Run.trace` fills them.
_FIRING_FIELDS = ("seq", "rule", "facts", "bindings", "declared", "variant")
_FACT_FIELDS = tuple(f.name for f in dataclass_fields(Fact))
if tuple(f.name for f in dataclass_fields(Firing)) != _FIRING_FIELDS:   # pragma: no cover
    raise ImportError("model.Firing's fields changed: update _Run.trace")


def _frozen(cls, names: tuple, rows: list) -> list:
    """``[cls(*row) for row in rows]`` for a frozen dataclass ``cls`` whose fields are ``names``
    (all given), without ``__slots__`` or ``__post_init__``: its generated ``__init__`` sets each
    field with ``object.__setattr__``, which here is the instance's ``__dict__``; filled
    directly, the objects are the same (equal, same hash and repr) at a third of the cost."""
    new = object.__new__
    built = []
    for row in rows:
        obj = new(cls)
        obj.__dict__.update(zip(names, row))
        built.append(obj)
    return built


class Engine:
    """A rulebook compiled onto experta: build once, :meth:`run` per client."""

    def __init__(self, rulebook: Rulebook, firing_limit: int | None = None,
                 stock_matcher: bool = False, budget: Budget | None = None):
        """Compile ``rulebook``. ``stock_matcher`` uses experta's own ``ReteMatcher``, engine
        loop and rule lookup (slower, same results: the tests and the benchmark compare the
        two; it has no :class:`Budget`). ``firing_limit`` defaults to
        :func:`firing_limit_for` the rulebook.

        A rule over the engine's static limits (:mod:`~haircare_expert.engine.limits`) is a
        :class:`~haircare_expert.errors.RuleErrors` (exit 4) here, before anything is built.
        """
        problems = limits.check(rulebook)
        if problems:
            raise RuleErrors(problems)
        self.rulebook = rulebook
        self.firing_limit = firing_limit_for(rulebook) if firing_limit is None else firing_limit
        self.budget = budget or Budget()
        self._quick = not stock_matcher
        self._run: _Run | None = None
        members: dict[str, Any] = {}
        # Unique saliences, strata first: derivations a negation depends on always fire before
        # it, and the agenda order (so the trace) is the same on every run.
        order = sorted(rulebook.rules, key=lambda r: (r.stratum, -r.salience, r.id))
        top = len(order)
        for rank, rule in enumerate(order):
            for index, variant in enumerate(rule.variants()):
                members[f"r{rank}_{index}"] = self._compile(rule, index, variant, top - rank)
        engine_cls = type("CompiledKnowledge", (QuickEngine if self._quick else KnowledgeEngine,), {
            **members, "__module__": __name__,
            "__matcher__": TrackedReteMatcher if self._quick else ReteMatcher,
            "__strategy__": StableDepthStrategy})
        self._engine = engine_cls()
        if self._quick:
            self._engine.matcher.limits = self.budget

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
        fire = self._action(rule, variant_no, positive)
        captures = tuple(f"_f{i}" for i in range(positive))

        def action(engine, **context):
            # experta rewrites NOT(AND(a, b)) as OR(NOT a, NOT b) (matchers/rete/dnf.py): with
            # neither present the same match is activated twice. One match fires once, as in
            # CLIPS. (QuickEngine.run skips the second pop of a match's agenda key itself.)
            key = (action, tuple([id(context[name]) for name in captures]))
            fired = self._run.fired
            if key not in fired:
                fired.add(key)
                fire(context)

        action.__name__ = rule.id.replace("-", "_")
        action.variant = variant_no     # read by StableDepthStrategy to order alternatives
        action.fire = fire              # called directly by QuickEngine.run
        action.rule_id = rule.id        # names the rule in a budget error
        return _ExRule(*lhs, salience=salience)(action)

    def _action(self, rule: Rule, variant: int, count: int):
        """The action of one alternative of ``rule``: record the firing, declare its facts.
        It receives the activation's context (facts captured as ``_f0``.., variables as
        ``v_name``)."""
        captures = [f"_f{i}" for i in range(count)]
        rule_id = rule.id
        origin = f"rule:{rule.id}"
        declarations = []
        for decl in rule.declare:
            if any(isinstance(value, Var) for _, value in decl.fields):
                # (field, the context's name for the variable or None, the value given)
                template = tuple((name, f"v_{value.name}", None) if isinstance(value, Var) else (name, None, value)
                                 for name, value in decl.fields)
                declarations.append((decl.type, template, None, None, None))
            else:   # all values given: the fields, the identity and the network's plan are fixed
                fields = dict(decl.fields)
                declarations.append((decl.type, None, fields, _key(decl.type, fields), [None]))
        outer = self
        binds = any(t.op == "bind" for cond in rule.when for p in _patterns(cond) for t in p.tests)
        recipe = (rule_id, variant, binds, tuple(captures))     # shared by every record of it

        if not declarations:
            def fire(context):
                outer._run.records.append((recipe, context, ()))
            return fire

        def fire(context):
            run = outer._run
            declared = []
            for type_name, template, fields, identity, plan in declarations:
                if template is not None:
                    fields = {name: (value if bound is None else context[bound]) for name, bound, value in template}
                    identity = _key(type_name, fields)
                fid, new = outer._declare(type_name, fields, origin, identity, plan=plan)
                if new:
                    declared.append(fid)
            run.records.append((recipe, context, tuple(declared)))
        return fire

    # -- running ---------------------------------------------------------------------------
    def run(self, facts: Sequence[Fact]) -> tuple[list[Fact], list[Firing]]:
        """Run the rules on the input facts; return (all facts with ids, firing trace).

        The cyclic collector is paused meanwhile (:func:`~.freeze.collector_paused`), and the
        network's memories, the keys fired and the fact list are emptied before it resumes
        (``QuickEngine.release``), so what the run built is freed at once by reference
        counting instead of being scanned by the collector."""
        with collector_paused():
            try:
                run = self._infer(facts)
                return run.all_facts(), run.trace()
            finally:
                if self._quick:
                    self._engine.release()

    def _infer(self, facts: Sequence[Fact]) -> _Run:
        """Reset the engine, declare ``facts``, fire the rules; the run's bookkeeping."""
        run = self._run = _Run(self.firing_limit)
        engine = self._engine
        try:
            engine.reset()
            # Our own fact identity (Fact.key) decides what is the same fact; experta's would
            # also merge facts whose values are merely equal (1 == True) and return None.
            engine.facts.duplication = True
            # The input facts go into the network together when the run starts (experta's
            # declare would update the agenda after each: the same activations in the end).
            for fact in facts:
                self._declare(fact.type, fact.fields, fact.origin, fact.key(), update=False)
            engine.run(self.firing_limit)
            # The last firing's conclusions may still be waiting in the network: collect them,
            # so a run cut off by the limit is always noticed.
            if self._quick:
                waiting = engine.pending()
            else:
                engine.strategy.update_agenda(engine.agenda, *engine.get_activations())
                waiting = len(engine.agenda.activations)
            if waiting:
                raise self._runaway(run.records)
        except BudgetExceeded as exc:
            raise self._over_budget(exc) from None
        except EngineError:
            raise
        except Exception as exc:  # an action or predicate fault must not leave the engine running
            raise EngineError("engine", f"inference failed: {type(exc).__name__}: {exc}") from exc
        finally:
            engine.running = False
            self._run = None
        return run

    def _runaway(self, records: list[tuple]) -> EngineError:
        """The error for a run cut off by the firing limit, naming the rule that fired most."""
        (rule_id, count), = Counter(record[0][0] for record in records).most_common(1)
        return EngineError(rule_id, f"stopped after {self.firing_limit} rule firings ({rule_id} fired "
                           f"{count} of them): the rules keep firing each other (a runaway cycle)")

    def _over_budget(self, exc: BudgetExceeded) -> EngineError:
        rule = rule_of(exc.node)
        rule_id = getattr(getattr(rule, "_wrapped", None), "rule_id", "engine")
        limit = getattr(self.budget, exc.what)
        what = ("matched more than {} combinations of facts" if exc.what == "partial_matches"
                else "gave more than {} activations").format(f"{limit:,}")
        return EngineError(rule_id, f"stopped: its conditions {what} in one consultation (the engine's "
                           f"budget); narrow them, e.g. join fewer routine entries")

    def _declare(self, type_name: str, fields: Mapping, origin: str, identity: tuple,
                 update: bool = True, plan: list | None = None) -> tuple[str, bool]:
        """Declare a fact unless one with the same identity is there; (our id, new?). ``plan``:
        for a conclusion whose fields are all given, where the network sends it (see
        ``QuickEngine.quick_declare``)."""
        run = self._run
        known = run.by_key.get(identity)
        if known is not None:
            return known, False
        cls = _FACT_CLASSES.get(type_name) or _fact_class(type_name)
        if self._quick and _PLAIN.issuperset(map(type, fields.values())):
            declared = self._engine.quick_declare(cls, fields, update, plan)     # what Fact(**fields) holds
        else:
            declared = self._engine.declare(cls(**fields))
        our_id = f"f-{len(run.facts) + 1}"
        run.ids[id(declared)] = our_id     # the fact object lives as long as the run
        run.by_key[identity] = our_id
        run.facts.append((type_name, fields, origin, our_id))
        return our_id, True
