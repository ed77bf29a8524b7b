"""The rule compiler and the inference run: the only module that imports experta.

:class:`Engine` compiles a :class:`~haircare_expert.rulebook.Rulebook` once into an experta
``KnowledgeEngine`` and runs it per consultation with ``reset()``. Every firing is recorded
(rule, matched facts, bindings, facts declared) and every fact keeps its origin.

Speed (measured in ``benchmarks/``; the results are identical to experta's own matcher, which
``tests/test_engine_matcher.py`` checks):

* :class:`TrackedReteMatcher` asks only the conflict-set nodes that received a token since the
  last question for their changes; experta's ``ReteMatcher`` polls every rule's node after every
  firing, which made the cost grow with rules x firings.
* Its root hands a fact only to the alpha branches for the fact's class, and its alpha nodes
  test a fact before copying the token (experta copies first; most tests fail).
* ``reset()`` wipes each node's memory once; experta's recursive reset visits a shared node once
  per path to it.
* The compiled engine class answers ``get_rules()``/``get_deffacts()`` from a cache: experta walks
  the class with ``inspect.getmembers`` on every ``reset()``.

Determinism: :class:`StableDepthStrategy` gives the agenda a total order (experta left ties
to hash order).
"""
from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping
from typing import Any, Sequence

from . import _compat  # noqa: F401  (must run before experta is imported)
from experta import AND, AS, NOT, Fact as _ExFact, KnowledgeEngine, P, Rule as _ExRule, W
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import FactCapture, FeatureCheck, TypeCheck
from experta.matchers.rete.mixins import ChildNode, NoMemory
from experta.matchers.rete.nodes import (BusNode, ConflictSetNode, FeatureTesterNode, NotNode,
                                         OrdinaryMatchNode)
from experta.matchers.rete.token import Token
from experta.strategies import DepthStrategy

from .conditions import Pattern, Var
from .errors import EngineError
from .model import Fact, Firing
from .rulebook import Rule, Rulebook

#: Default cap on firings per consultation; far above what the knowledge base needs.
DEFAULT_FIRING_LIMIT = 5000

# experta logs every match at DEBUG level through these loggers; give them a NullHandler so
# nothing is printed unless the application configures logging (the library never does). They
# are left enabled: an application can still watch experta with its own handlers.
for _logger in ("experta", "experta.watchers"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())


def _new_token(tag, data, context) -> Token:
    # Token() re-validates every fact on each copy; the data here is already a token's.
    return tuple.__new__(Token, (tag, data, context))


def _copy(token) -> Token:
    """What ``Token.copy()`` gives, without re-validating the facts."""
    return tuple.__new__(Token, (token.tag, token.data.copy(), token.context.copy()))


class _TrackedConflictSetNode(ConflictSetNode):
    """A conflict-set node that tells its matcher it has pending changes."""

    _pending: set
    _rank: int

    def activate(self, token):
        self._pending.add(self._rank)
        return self._activate(_copy(token))


class _QuickTwoInputs:
    """Join and negation nodes receiving tokens without experta's per-token debug log call and
    re-validation (mixed into experta's own node classes)."""

    def activate_left(self, token):
        return self._activate_left(_copy(token))

    def activate_right(self, token):
        return self._activate_right(_copy(token))


class _QuickOrdinaryMatchNode(_QuickTwoInputs, OrdinaryMatchNode):
    pass


class _QuickNotNode(_QuickTwoInputs, NotNode):
    pass


_QUICK_CLASSES = {OrdinaryMatchNode: _QuickOrdinaryMatchNode, NotNode: _QuickNotNode}
_MISSING = object()


def _quick_check(check):
    """A plain function doing what ``check`` does, for the checks this compiler emits most:
    a predicate on a field, a variable bound to a field, a fact captured. Others stay as they
    are. (experta's checks also log every test at DEBUG level; these do not.)"""
    if type(check) is FactCapture:
        bind = check.bind
        return lambda fact: {bind: fact}
    if (type(check) is not FeatureCheck or not isinstance(check.what, str)
            or "__" in check.what or check.what.isnumeric()):
        return check
    what, how = check.what, check.how
    if type(how) is P and how.__bind__ is None:
        match = how.match

        def test(fact):
            value = fact.get(what, _MISSING)
            return value is not _MISSING and bool(match(value))
        return test
    if type(how) is W and how.__bind__ is not None:
        bind = how.__bind__

        def capture(fact):
            value = fact.get(what, _MISSING)
            return False if value is _MISSING else {bind: value}
        return capture
    return check


class _QuickFeatureTesterNode(FeatureTesterNode):
    """An alpha node that tests the fact before copying the token.

    experta copies the token on every activation and then tests it; most tests fail, so the
    copies were wasted. What passes is handled exactly as ``FeatureTesterNode._activate`` does.
    """

    def activate(self, token):
        data = token.data
        if len(data) != 1:
            raise ValueError("an alpha node receives one fact at a time")
        match = self.matcher(next(iter(data)))
        if not match:
            return None
        context = token.context.copy()
        if isinstance(match, Mapping):
            for key, value in match.items():
                if isinstance(key, tuple):  # negated condition
                    if key[1] in context and context[key[1]] == value:
                        return False
                else:
                    if context.get(key, value) != value:
                        return False
                    if (False, key) in context and context[(False, key)] == value:
                        return False
            context.update(match)
        token = _new_token(token.tag, set(data), context)
        for child in self.children:
            child.callback(token)
        return None


class _TypeDispatchBusNode(BusNode):
    """The root node, handing each fact only to the alpha branches for its fact class.

    experta's root offers every fact to every branch, whose first test is the fact's class.
    """

    _by_type: dict

    def _children_for(self, fact) -> list:
        children = self._by_type.get(type(fact))
        if children is None:
            children = self._by_type[type(fact)] = [
                child for child in self.children
                if not isinstance(child.node.matcher, TypeCheck)
                or child.node.matcher.fact_type is type(fact)]
        return children

    def add(self, fact):
        token = _new_token(Token.TagType.VALID, {fact}, {})
        for child in self._children_for(fact):
            child.callback(token)

    def remove(self, fact):
        token = _new_token(Token.TagType.INVALID, {fact}, {})
        for child in self._children_for(fact):
            child.callback(token)


class TrackedReteMatcher(ReteMatcher):
    """experta's Rete network, run with less overhead; the same activations come out.

    * only the conflict-set nodes that received tokens are asked for their changes, in
      experta's node order;
    * the root hands a fact only to the branches for its class; alpha nodes test a fact before
      copying its token, with plain functions for the common tests;
    * tokens are copied without re-validating their facts, and without a debug log call per
      node (experta's watchers for rules, facts and activations still work);
    * ``reset()`` wipes each node's memory once.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending: set[int] = set()
        self._nodes = self._get_conflict_set_nodes()
        for rank, node in enumerate(self._nodes):
            node.__class__ = _TrackedConflictSetNode
            node._pending = self._pending
            node._rank = rank
        nodes = _all_nodes(self.root_node)
        for node in nodes:
            if type(node) is FeatureTesterNode:
                node.__class__ = _QuickFeatureTesterNode
                if not isinstance(node.matcher, TypeCheck):   # the root dispatches on these
                    node.matcher = _quick_check(node.matcher)
            elif type(node) in _QUICK_CLASSES:
                node.__class__ = _QUICK_CLASSES[type(node)]
        # The parents hold bound methods taken when the network was wired: bind them again so
        # the new classes' methods are the ones called.
        for node in nodes:
            node.children[:] = [ChildNode(child.node, getattr(child.node, child.callback.__name__))
                                for child in node.children]
        self.root_node.__class__ = _TypeDispatchBusNode
        self.root_node._by_type = {}
        self._memories = [node for node in nodes if not isinstance(node, NoMemory)]

    def _get_conflict_set_nodes(self):
        # experta's own walk keeps a list and tests membership in it (quadratic in rules: a
        # second at 5,000 rules); the same walk and order with a set of ids.
        seen: set[int] = set()
        found = []

        def walk(node):
            if isinstance(node, ConflictSetNode) and id(node) not in seen:
                seen.add(id(node))
                found.append(node)
            for child in node.children:
                walk(child.node)

        walk(self.root_node)
        return tuple(found)

    def changes(self, adding=None, deleting=None):
        if deleting is not None:
            for fact in deleting:
                self.root_node.remove(fact)
        if adding is not None:
            for fact in adding:
                self.root_node.add(fact)
        added: list = []
        removed: list = []
        if self._pending:
            nodes = self._nodes
            for rank in sorted(self._pending):
                node_added, node_removed = nodes[rank].get_activations()
                added.extend(node_added)
                removed.extend(node_removed)
            self._pending.clear()
        return added, removed

    def reset(self):
        # experta resets recursively, visiting a node once per path to it (thousands of visits
        # for a few hundred nodes); wiping each node's memory once has the same effect.
        for node in self._memories:
            node._reset()
        # Changes left from an interrupted run belong to the old facts: drop them (experta's
        # matcher would hand them to the next run's agenda).
        for rank in self._pending:
            self._nodes[rank].get_activations()
        self._pending.clear()


def _all_nodes(root) -> list:
    """Every node of the network under ``root``, each once, parents before children."""
    seen: set[int] = set()
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        stack.extend(child.node for child in node.children)
    return found


class StableDepthStrategy(DepthStrategy):
    """experta's depth strategy with a total order, so equal-looking activations never tie.

    experta orders the agenda by (salience, matched fact ids, most recent first). Two
    activations of one rule on the same facts have equal keys when two alternatives (``any``)
    match them, or when a join matches them in swapped roles (two routine entries); their order
    then followed set iteration over hashes built from function ids, which changed between
    engines and between processes. The key here adds the alternative (the first fires first)
    and the fact ids in pattern order, which breaks every such tie; whenever experta's key
    decides, the order is experta's. When a negation retracts an activation, the cheap key is
    compared before experta's full equality test.
    """

    def get_key(self, activation):
        ids = [f["__factid__"] for f in activation.facts]
        roles = tuple(fact["__factid__"] for name, fact in sorted(activation.context.items())
                      if name.startswith("_f"))
        variant = getattr(activation.rule._wrapped, "variant", 0)
        return (activation.rule.salience, sorted(ids, reverse=True), -variant, roles)

    def _update_agenda(self, agenda, added, removed):
        activations = agenda.activations
        for act in removed:
            act.key = key = self.get_key(act)
            idx = bisect.bisect_left(activations, act)
            for offset in (0, 1, -1):
                try:
                    other = activations[idx + offset]
                except IndexError:
                    continue
                # Activation equality includes the key: a different key can never be equal.
                if other.key == key and other == act:
                    del activations[idx + offset]
                    break
        for act in added:
            act.key = self.get_key(act)
            bisect.insort(activations, act)


def _cached_members(engine_cls) -> None:
    """Make ``engine_cls`` find its rules and deffacts once, not on every ``reset()``."""
    def get_rules(self):
        rules = self.__dict__.get("_rules_cache")
        if rules is None:
            rules = self._rules_cache = KnowledgeEngine.get_rules(self)
        return rules

    def get_deffacts(self):
        deffacts = self.__dict__.get("_deffacts_cache")
        if deffacts is None:
            deffacts = self._deffacts_cache = KnowledgeEngine.get_deffacts(self)
        return deffacts

    engine_cls.get_rules = get_rules
    engine_cls.get_deffacts = get_deffacts


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
        self.fired: set[tuple] = set()       # (rule id, variant, matched fact ids) already fired


class Engine:
    """A rulebook compiled onto experta: build once, :meth:`run` per client."""

    def __init__(self, rulebook: Rulebook, firing_limit: int = DEFAULT_FIRING_LIMIT,
                 stock_matcher: bool = False):
        """Compile ``rulebook``. ``stock_matcher`` uses experta's own ``ReteMatcher`` and rule
        lookup (slower, same results: the tests and the benchmark compare the two)."""
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
            **members, "__module__": __name__,
            "__matcher__": ReteMatcher if stock_matcher else TrackedReteMatcher,
            "__strategy__": StableDepthStrategy})
        if not stock_matcher:
            _cached_members(engine_cls)
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
        action.variant = variant_no     # read by StableDepthStrategy to order alternatives
        return _ExRule(*lhs, salience=salience)(action)

    # -- running ---------------------------------------------------------------------------
    def run(self, facts: Sequence[Fact]) -> tuple[list[Fact], list[Firing]]:
        """Run the rules on the input facts; return (all facts with ids, firing trace)."""
        run = self._run = _Run(self.firing_limit)
        engine = self._engine
        try:
            engine.reset()
            # Our own fact identity (Fact.key) decides what is the same fact; experta's would
            # also merge facts whose values are merely equal (1 == True) and return None.
            engine.facts.duplication = True
            for fact in facts:
                self._declare(fact)
            engine.run(self.firing_limit)
            # The last firing's conclusions may still be waiting in the network: collect them,
            # so a run cut off by the limit is always noticed.
            engine.strategy.update_agenda(engine.agenda, *engine.get_activations())
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
        facts = tuple(run.ids[f.__factid__] for f in matched)
        # experta rewrites NOT(AND(a, b)) as OR(NOT a, NOT b) (matchers/rete/dnf.py): with neither
        # present the same match is activated twice. One match fires once, as in CLIPS.
        key = (rule.id, variant, facts)
        if key in run.fired:
            return
        run.fired.add(key)
        seq = len(run.trace) + 1
        declared = []
        for decl in rule.declare:
            fields = {name: (bindings[value.name] if isinstance(value, Var) else value)
                      for name, value in decl.fields}
            fid, new = self._declare(Fact(decl.type, fields, f"rule:{rule.id}"))
            if new:
                declared.append(fid)
        run.trace.append(Firing(seq, rule.id, facts, dict(bindings), tuple(declared), variant))
