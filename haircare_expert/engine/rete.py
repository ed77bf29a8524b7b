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
  equality tests;
* :mod:`.beta`: joins and negations share tokens instead of copying them;
* :mod:`.agenda`: conflict-set nodes put matches straight onto a sorted agenda that the engine
  loop (:class:`~.agenda.QuickEngine`) pops; the order is experta's (a total one);
* :mod:`.budget`: a run's budget of partial matches and activations;
* ``reset()`` wipes only the memories a run filled.

Nothing here recurses along the network (walks use explicit stacks); a token still travels
down a chain of join nodes by calls, one level per condition, which the compiler keeps short
(``haircare_expert.engine.limits``).
"""
from __future__ import annotations

# experta is importable: the package __init__ ran _compat first
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import SameContextCheck, TypeCheck
from experta.matchers.rete.mixins import ChildNode
from experta.matchers.rete.nodes import BusNode, ConflictSetNode, FeatureTesterNode

from haircare_expert.engine.agenda import AgendaNode, QuickAgenda, QuickEngine, StableDepthStrategy
from haircare_expert.engine.alpha import (
    PREDICATE_TESTS,
    QuickFeatureTesterNode,
    TypeDispatchBusNode,
    build_kids,
    quick_check,
)
from haircare_expert.engine.beta import QUICK_CLASSES, same_context
from haircare_expert.engine.budget import Budget, BudgetExceeded, rule_of

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
        self._nodes = self._get_conflict_set_nodes()
        nodes = _all_nodes(self.root_node)
        for node in nodes:
            self._adopt(node)
        # The parents hold bound methods taken when the network was wired: bind them again so
        # the new classes' methods are the ones called.
        for node in nodes:
            node.children[:] = [ChildNode(child.node, getattr(child.node, child.callback.__name__))
                                for child in node.children]
        build_kids(nodes)
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
