"""The Rete speed-ups: experta's network, built by experta, run by this package's node classes.

This package is the one place that reaches into experta's private internals (its node classes,
their memories and callbacks, ``Token``, the name-mangled ``KnowledgeEngine.__declare``,
``FactList.last_index``...). Those are not a public API, which is why ``setup.cfg`` pins
experta to exactly 1.9.4: a new experta release must be checked against these modules (and
``tests/test_engine_matcher.py``, which compares every result with experta's stock
``ReteMatcher``) before the pin moves.

What is experta's and what is ours: the network is built by experta from the compiled rules,
and its nodes stay experta's node objects with experta's tests; :class:`TrackedReteMatcher`
then gives each node one of this package's classes, which decide the same things faster:

* :mod:`.alpha`: the root hands a fact only to the branches for its class; one function walks
  the alpha nodes, testing before building anything and looking values up among sibling
  equality tests (:mod:`.checks`: the tests as plain functions); a rule's conclusion of fixed
  content replays the first walk's deliveries;
* :mod:`.beta`: joins and negations share tokens instead of copying them, and the memory of
  the side an alpha node feeds (see :func:`_terminals`);
* :mod:`.agenda`: conflict-set nodes put matches straight onto a sorted agenda that the engine
  loop (:class:`~.agenda.QuickEngine`) pops; the order is experta's (a total one);
* :mod:`.budget`: a run's budget of partial matches and activations;
* ``reset()`` wipes only the memories a run filled.

Nothing here recurses along the network (walks use explicit stacks); a token still travels
down a chain of join nodes by calls, one level per condition, which the compiler keeps short
(``haircare_expert.engine.limits``).
"""
from __future__ import annotations

from functools import update_wrapper

# experta is importable: the package __init__ ran _compat first
from experta import NOT, OR, Fact, P, Rule, W
from experta.fact import InitialFact
from experta.fieldconstraint import ANDFC, NOTFC, ORFC, FieldConstraint
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import SameContextCheck, TypeCheck
from experta.matchers.rete.mixins import ChildNode
from experta.matchers.rete.nodes import (
    BusNode,
    ConflictSetNode,
    FeatureTesterNode,
    NotNode,
    OrdinaryMatchNode,
)
from experta.matchers.rete.utils import prepare_rule, wire_rule

from haircare_expert.engine.agenda import AgendaNode, QuickAgenda, QuickEngine, StableDepthStrategy
from haircare_expert.engine.alpha import QuickFeatureTesterNode, TypeDispatchBusNode, build_kids
from haircare_expert.engine.beta import QUICK_CLASSES, QuickJoinNode, QuickNotNode, same_context
from haircare_expert.engine.budget import Budget, BudgetExceeded, rule_of
from haircare_expert.engine.checks import PREDICATE_TESTS, quick_check

__all__ = ["PREDICATE_TESTS", "Budget", "BudgetExceeded", "QuickEngine", "StableDepthStrategy",
           "TrackedReteMatcher", "rule_of"]


class TrackedReteMatcher(ReteMatcher):
    """experta's Rete network, run with less overhead; the same activations come out, in the
    same order, onto :attr:`agenda` (see the module docstring)."""

    #: The budget of every run (set by the engine before it runs; see :class:`Budget`).
    limits = Budget()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.agenda = QuickAgenda()
        # [partial matches left, activations left] in this run, shared with the nodes
        self._budget = [self.limits.partial_matches, self.limits.activations]
        self._touched: list = []        # the node memories a run filled
        nodes = _all_nodes(self.root_node)
        for node in nodes:
            self._adopt(node)
        # The parents hold bound methods taken when the network was wired: bind them again so
        # the new classes' methods are the ones called.
        for node in nodes:
            node.children[:] = [ChildNode(child.node, getattr(child.node, child.callback.__name__))
                                for child in node.children]
        for node in nodes:
            node._out = [child.callback for child in node.children]
        build_kids(nodes, _terminals(nodes, self._touched))
        self.root_node.__class__ = TypeDispatchBusNode
        self.root_node._by_type = {}

    def _adopt(self, node) -> None:
        """Give ``node`` this package's class for it (see the module docstring)."""
        kind = type(node)
        if kind is ConflictSetNode:
            node.__class__ = AgendaNode
            node.setup(self.agenda, self._budget, self._touched)
        elif kind is FeatureTesterNode:
            node.__class__ = QuickFeatureTesterNode
            if not isinstance(node.matcher, TypeCheck):   # the root dispatches on these
                node.matcher = quick_check(node.matcher)
        elif kind in QUICK_CLASSES:
            node.__class__ = QUICK_CLASSES[kind]
            node._budget = self._budget
            node._touched = self._touched
            if type(node.matcher) is not SameContextCheck:
                raise TypeError(f"a join node tests {node.matcher!r}: the compiler emits none")
            node.matcher = same_context
        elif kind is not BusNode:
            # tokens here carry their facts as a tuple, which only this package's nodes read
            raise TypeError(f"the compiled network holds a {kind.__name__}: the compiler emits none")

    @staticmethod
    def prepare_ruleset(engine):
        """experta's ``prepare_ruleset``, with a shortcut for the rules already in the form it
        gives them (see :func:`_prepared`)."""
        return {_prepared(rule) for rule in engine.get_rules()}

    @staticmethod
    def build_beta_part(ruleset, alpha_terminals):
        """experta's ``build_beta_part``: the same nodes, wired the same way; the rules
        :func:`_prepared` left plain are wired here (experta's ``wire_rule`` builds a new
        ``singledispatch`` function for every rule, whose dispatch cache starts empty)."""
        for rule in ruleset:
            if all(isinstance(c, Fact) or type(c) is NOT for c in rule):
                _wire_plain(rule, alpha_terminals)
            elif isinstance(rule[0], OR):
                for subrule in rule[0]:
                    wire_rule(rule, alpha_terminals, lhs=subrule)
            else:
                wire_rule(rule, alpha_terminals, lhs=rule)

    def _get_conflict_set_nodes(self):
        # experta's own walk keeps a list and tests membership in it (quadratic in rules: a
        # second at 5,000 rules); the same walk and order with a set of ids.
        return tuple(node for node in _all_nodes(self.root_node, in_order=True)
                     if isinstance(node, ConflictSetNode))

    def changes(self, adding=None, deleting=None):
        """Pass the facts through the network; the matches go straight onto :attr:`agenda`, so
        there are no activations to hand back."""
        root = self.root_node
        if deleting:
            for fact in deleting:
                root.remove(fact)
        if adding:
            for fact in adding:
                root.add(fact)
        return [], []

    def reset(self):
        # experta resets recursively, visiting a node once per path to it (thousands of visits
        # for a few hundred nodes); wiping the memories the run filled has the same effect. The
        # agenda is emptied too: what an interrupted run left belongs to the old facts.
        self._budget[:] = [self.limits.partial_matches, self.limits.activations]
        for memory in self._touched:
            memory.clear()
        self._touched.clear()
        self.agenda.clear()


def _prepared(rule):
    """``prepare_rule(rule)``: the rule in disjunctive normal form, an ``InitialFact`` first
    when it opens with a negation. experta rewrites every rule to a fixed point, copying it (and
    inspecting its action's signature) at every step: most of the time to compile. A rule made
    only of patterns and negated single patterns, with no ``|`` or ``~`` in a field, is already
    in that form: it is copied once, with the same conditions (experta's would be equal copies),
    as ``Rule.new_conditions`` copies it. Any other rule goes through experta's own rewrite."""
    conditions = tuple(rule)
    if not conditions or not all(_plain_condition(c) for c in conditions):
        return prepare_rule(rule)
    if isinstance(conditions[0], NOT):
        conditions = (InitialFact(), *conditions)
    copy = Rule.__new__(type(rule), *conditions, salience=rule.salience)
    copy._wrapped = rule._wrapped
    copy._wrapped_args = rule._wrapped_args
    return update_wrapper(copy, rule._wrapped)


def _wire_plain(rule, alpha_terminals) -> None:
    """``wire_rule(rule, alpha_terminals)`` for a rule of patterns and negated patterns: a
    chain of joins (a negation: a ``NotNode``) from the first pattern's alpha node down, each
    taking the next pattern's alpha node on its right, and the rule's conflict-set node last.
    (experta's ``add_child`` tests ``node not in children``, a list of ``ChildNode`` pairs a
    node never equals, and appends: appended here directly.)"""
    def terminal(condition):
        return alpha_terminals[condition if isinstance(condition, Fact) else condition[0]]

    conditions = tuple(rule)
    current = None if len(conditions) > 1 else terminal(conditions[0])
    for first, second in zip(conditions, conditions[1:]):
        node = (NotNode if type(second) is NOT else OrdinaryMatchNode)(SameContextCheck())
        left = terminal(first) if current is None else current
        left.children.append(ChildNode(node, node.activate_left))
        terminal(second).children.append(ChildNode(node, node.activate_right))
        current = node
    rule_node = ConflictSetNode(rule)
    current.children.append(ChildNode(rule_node, rule_node.activate))


def _plain_condition(condition) -> bool:
    """A pattern, or a negated single pattern, whose fields hold P, W or a flat P & W."""
    if type(condition) is NOT and len(condition) == 1:
        condition = condition[0]
    if not isinstance(condition, Fact):
        return False
    for value in condition.values():
        if isinstance(value, (ORFC, NOTFC)):
            return False
        if isinstance(value, ANDFC) and any(isinstance(part, FieldConstraint) and not isinstance(part, (P, W))
                                            for part in value):
            return False
    return True


def _terminals(nodes: list, touched: list) -> dict:
    """By alpha node id, the terminal :func:`~.alpha.deliver` hands its tokens to: (memory,
    touched, gated, always). The joins and negations an alpha node feeds would each keep the
    same tokens in a memory of their own (the side it feeds): they share one, filled once;
    each is then called only when its other side's memory holds something (``gated``). The
    sharing is exact when the nodes belong to different rules (no node then sees another's
    memory while a token travels); an alpha node feeding two nodes of one rule (a join with
    both sides on it, a rule that ``not (a and b)`` splits in two) keeps its nodes' own
    memories, and calls them in order (``always``)."""
    fed = {}
    for node in nodes:
        if type(node) is QuickFeatureTesterNode:
            beta = [(child.node, child.callback.__name__) for child in node.children
                    if type(child.node) is not QuickFeatureTesterNode or child.callback.__name__ != "activate"]
            if beta:
                rules = {id(rule_of(child)) for child, _ in beta}
                fed[id(node)] = (beta, [] if len(rules) == len(beta) else None)
    for beta, memory in fed.values():      # first every shared memory in place...
        for child, side in beta if memory is not None else ():
            if side == "activate_right" and type(child) in (QuickJoinNode, QuickNotNode):
                child.right_memory = memory
            elif side == "activate_left" and type(child) is QuickJoinNode:
                child.left_memory = memory
    terminals = {}
    for key, (beta, memory) in fed.items():     # ...then the gates, reading the final memories
        gated, always = [], []
        for child, side in beta:
            if memory is None or side not in ("activate_left", "activate_right") or (
                    type(child) is QuickNotNode and side == "activate_left"):
                always.append(getattr(child, side))
            elif type(child) is QuickNotNode:
                gated.append((child.left_memory, child.count_right))
            elif side == "activate_right":
                gated.append((child.left_memory, child.pair_right))
            else:
                gated.append((child.right_memory, child.pair_left))
        terminals[key] = (memory if gated else None, touched, gated, always)
    return terminals


def _all_nodes(root, in_order: bool = False) -> list:
    """Every node of the network under ``root``, each once, parents before children; with
    ``in_order``, depth first with children in order (experta's order of conflict-set nodes).
    Walked with a stack: a rule of many conditions is a long chain of nodes."""
    seen: set[int] = set()
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:    # its whole subtree was walked the first time
            continue
        seen.add(id(node))
        found.append(node)
        stack.extend(child.node for child in (reversed(node.children) if in_order else node.children))
    return found
