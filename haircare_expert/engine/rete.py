"""The Rete speed-ups: experta's network, node classes, fact list and agenda, run faster.

This is the one module that reaches into experta's private internals (its node classes, their
memories and callbacks, ``Token``/``TokenInfo``, the name-mangled
``KnowledgeEngine.__declare``, ``Agenda.activations``, ``FactList.last_index``...). Those are
not a public API, which is why ``setup.cfg`` pins experta to exactly 1.9.4: a new experta
release must be checked against this module (and ``tests/test_engine_matcher.py``, which
compares every result with experta's stock ``ReteMatcher``) before the pin moves.

What is experta's and what is ours: the network (built by experta from the compiled rules),
its node classes, the fact list, the agenda and the strategy hook are experta's; what changed
is how tokens travel and what is worked out once instead of per consultation:

* :class:`TrackedReteMatcher` asks only the conflict-set nodes that received a token since the
  last question for their changes; experta's ``ReteMatcher`` polls every rule's node after every
  firing, which made the cost grow with rules x firings.
* Its root hands a fact only to the alpha branches for the fact's class; one function walks the
  alpha nodes, testing before building anything, looking a value up among sibling equality
  tests instead of trying each, and building a token only for a join or conflict-set node.
* No node modifies a token, so tokens are shared instead of copied at every node; join and
  negation memories hold tokens' facts and contexts as they are (experta froze them and thawed
  them again for every test); conflict-set nodes key their changes by token info.
* ``reset()`` wipes only the memories a run filled; rules, deffacts and their signatures are
  found once (experta walks the class with ``inspect.getmembers`` on every ``reset()``).
* :class:`QuickEngine` runs experta's loop calling each rule's compiled action directly, and
  declares facts into experta's fact list without re-checking what cannot fail.
* A run has a budget (:class:`Budget`): the partial matches the joins may build and the
  activations the rules may get in one consultation. Past it the network raises
  :class:`BudgetExceeded` naming the node, so a rule joining a long routine with itself stops
  with an error instead of eating the machine's memory.

Nothing here recurses along the network (walks use explicit stacks); a token still travels
down a chain of join nodes by calls, one level per condition, which the compiler keeps short
(``haircare_expert.engine.limits``).

Determinism: :class:`StableDepthStrategy` gives the agenda a total order (experta left ties
to hash order).
"""
from __future__ import annotations

import bisect
import inspect
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass

# experta is importable: the package __init__ ran _compat first
from experta import KnowledgeEngine, P, W, watchers
from experta.activation import Activation
from experta.agenda import Agenda
from experta.factlist import FactList
from experta.fieldconstraint import ANDFC
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import FactCapture, FeatureCheck, SameContextCheck, TypeCheck
from experta.matchers.rete.mixins import ChildNode, NoMemory
from experta.matchers.rete.nodes import (
    BusNode,
    ConflictSetNode,
    FeatureTesterNode,
    NotNode,
    OrdinaryMatchNode,
)
from experta.matchers.rete.token import Token, TokenInfo
from experta.strategies import DepthStrategy


@dataclass(frozen=True)
class Budget:
    """What one consultation may cost the network, whatever the rules say.

    ``partial_matches``: tokens the join nodes may build (each is a combination of facts held
    in a memory: the run's memory grows with it; ~0.5 KB each). ``activations``: rule
    activations put on the agenda. The defaults are far above what the shipped rules need (a
    few hundred of each on the largest routine) and far below what exhausts a machine.
    """

    partial_matches: int = 300_000
    activations: int = 100_000


class BudgetExceeded(Exception):
    """Raised inside the network when a run passes its :class:`Budget`: ``what`` (a field name
    of :class:`Budget`) ran out at ``node`` (:func:`rule_of` names the rule)."""

    def __init__(self, what: str, node):
        super().__init__(f"the {what} budget is exhausted")
        self.what = what
        self.node = node


def rule_of(node):
    """The experta rule whose conflict-set node lies below ``node`` (the first found)."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, ConflictSetNode):
            return node.rule
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(child.node for child in reversed(node.children))
    return None


#: predicate -> (operator, value), for the tests the matcher can index (see _index_kids); the
#: compiler registers each predicate it builds.
PREDICATE_TESTS: dict = {}
_MISSING = object()
_VALID = Token.TagType.VALID
_INVALID = Token.TagType.INVALID



def _info(token) -> TokenInfo:
    """What ``token.to_info()`` gives, built directly."""
    return tuple.__new__(TokenInfo, (frozenset(token.data), frozenset(token.context.items())))


def _merge(context: dict, match) -> dict | None:
    """The context after a passing alpha test returned the bindings ``match`` (None when they
    clash with what the context holds), as ``FeatureTesterNode._activate`` decides it; the
    context given is not changed (tokens are shared, never modified, see below)."""
    for key, value in match.items():
        if isinstance(key, tuple):  # negated condition
            if key[1] in context and context[key[1]] == value:
                return None
        else:
            if context.get(key, value) != value:
                return None
            if (False, key) in context and context[(False, key)] == value:
                return None
    context = context.copy()
    context.update(match)
    return context


_DISPATCH = object()          # look the fact's value up
_DISPATCH_MEMBERS = object()  # look each member of the fact's (set) value up


def _index_kids(kids: list) -> list:
    """``kids`` with the alpha children that test one field against constants replaced by one
    entry that looks the fact's value up among theirs, where there are at least three such
    children on the field: one lookup instead of a test for each.

    Indexed are tests whose passing is a lookup (their ``index`` attribute, set by
    :func:`_quick_check`): equality with a value (``type: curly``) and membership in a list
    (``type: {in: [curly, coily]}``), keyed by the value's (type, value); and a set field
    containing a value (``concerns: {contains: frizz}``), looked up by each member of the
    fact's set (a set has no repeats, so a child is selected once). The children a lookup
    selects are walked as if each had been tested (these tests pass with no bindings); the
    rest are untouched. Which tokens reach which nodes does not change, only the order
    siblings are visited in, and nothing downstream depends on that order (the agenda orders
    activations totally)."""
    by_field: dict[tuple, list] = {}
    for child, test, callback in kids:
        index = getattr(test, "index", None) if callback is None else None
        if index is not None:
            field, keys, members = index
            by_field.setdefault((field, members), []).append((keys, child))
    indexed = {group for group, tests in by_field.items() if len(tests) >= 3}
    if not indexed:
        return kids
    out = []
    for entry in kids:
        child, test, callback = entry
        index = getattr(test, "index", None) if callback is None else None
        group = None if index is None else (index[0], index[2])
        if group not in indexed:
            out.append(entry)
        elif group in by_field:
            table: dict = {}
            for keys, node in by_field.pop(group):
                for key in keys:
                    table.setdefault(key, []).append(node)
            out.append((table, group[0], _DISPATCH_MEMBERS if group[1] else _DISPATCH))
    return out


def _alpha(kids, fact, tag, data, context) -> None:
    """Pass ``fact`` (its token: ``tag``, ``data``, ``context``) to the children of an alpha node
    it has passed. Alpha children are tested and walked here directly; the token itself is built
    once, and only when a join or conflict-set node is to receive it."""
    token = None
    for child, test, callback in kids:
        if test is None:
            if token is None:
                token = tuple.__new__(Token, (tag, data, context))
            callback(token)
            continue
        if callback is _DISPATCH:       # child: {(type, value): nodes}, test: the field
            value = fact.get(test, _MISSING)
            if value is _MISSING:
                continue
            try:
                passed = child.get((type(value), value))
            except TypeError:           # unhashable: equal to none of the values
                continue
            if passed:
                for node in passed:
                    _alpha(node._kids, fact, tag, data, context)
            continue
        if callback is _DISPATCH_MEMBERS:   # child: {(type, member): nodes}, test: the field
            value = fact.get(test, _MISSING)
            if type(value) is not tuple:    # only a set contains anything
                continue
            for member in value:
                passed = child.get((type(member), member))
                if passed:
                    for node in passed:
                        _alpha(node._kids, fact, tag, data, context)
            continue
        match = test(fact)
        if not match:
            continue
        if match is True or not isinstance(match, Mapping):
            _alpha(child._kids, fact, tag, data, context)
        elif not context and type(match) is dict:
            _alpha(child._kids, fact, tag, data, match)     # nothing to clash with: it is new
        else:
            merged = _merge(context, match)
            if merged is not None:
                _alpha(child._kids, fact, tag, data, merged)


def _str_keys(context) -> dict:
    return {k: v for k, v in context if isinstance(k, str)}


class _TrackedConflictSetNode(ConflictSetNode):
    """A conflict-set node that tells its matcher it has pending changes, and keeps them in
    dicts keyed by the token's info.

    experta keys them by ``Activation`` objects, whose hash builds two frozensets each time. The
    info holds the same facts and context (its hash is cheap: frozensets cache theirs), and
    this compiler binds no negated variables (``~W``), so the context holds string keys only
    and two infos are equal exactly when their activations are.
    """

    _pending: set
    _rank: int
    _budget: list

    def activate(self, token):
        self._pending.add(self._rank)
        info = _info(token)
        if token.tag is _VALID:
            if info in self.memory:
                return
            self.memory.add(info)
            if info in self._removed:
                del self._removed[info]
            else:
                budget = self._budget
                budget[1] -= 1
                if budget[1] < 0:
                    raise BudgetExceeded("activations", self)
                self._added[info] = Activation(self.rule, info.data, _str_keys(info.context))
        else:
            self.memory.remove(info)
            if info in self._added:
                del self._added[info]
            else:
                self._removed[info] = Activation(self.rule, info.data, _str_keys(info.context))

    def _reset(self):
        self.memory = set()
        self._added = {}
        self._removed = {}

    def get_activations(self):
        added, removed = list(self._added.values()), list(self._removed.values())
        self._added = {}
        self._removed = {}
        return added, removed


def _same_context(left: dict, right: dict) -> bool:
    """``SameContextCheck()(left, right)`` as a plain function, without its per-pair log call."""
    for key, value in left.items():
        if key[0] is False:
            raise RuntimeError(f'Negated value "{key[1]}" present before capture.')
        if key in right and value != right[key]:
            return False
        if (False, key) in right and value == right[(False, key)]:
            return False
    return True


class _QuickOrdinaryMatchNode(OrdinaryMatchNode):
    """A join node doing what experta's does (``OrdinaryMatchNode.__activation``), without
    copying the token it receives (no node here modifies a token), re-validating the facts of
    the tokens it makes, or logging every pair it tests. Its memories hold each token's
    (facts, context) as they are, where experta holds frozen copies (``TokenInfo``) and thaws
    the context again for every test: the same contents, compared the same way."""

    def activate_left(self, token):
        self._join(token, self.left_memory, self.right_memory, True)

    def activate_right(self, token):
        self._join(token, self.right_memory, self.left_memory, False)

    def _join(self, token, branch_memory, matching_memory, is_left):
        context = token.context
        if token.tag is _VALID:
            branch_memory.append((token.data, context))
        else:
            with suppress(ValueError):
                branch_memory.remove((token.data, context))
        if not matching_memory:
            return
        matcher = self.matcher
        budget = self._budget
        for other_data, other_context in matching_memory:
            if is_left:
                match = matcher(context, other_context)
            else:
                match = matcher(other_context, context)
            if match:
                newcontext = {k: v for k, v in context.items() if isinstance(k, str)}
                for k, v in other_context.items():
                    if not isinstance(k, tuple):
                        newcontext[k] = v
                newtoken = tuple.__new__(Token, (token.tag, token.data | other_data, newcontext))
                budget[0] -= 1
                if budget[0] < 0:
                    raise BudgetExceeded("partial_matches", self)
                for child in self.children:
                    child.callback(newtoken)


class _QuickNotNode(NotNode):
    """A negation node doing what experta's does (``NotNode._activate_left/_right``), without
    copying the token it receives or re-validating the facts of the tokens it makes. Its right
    memory holds each token's (facts, context), and its left memory maps a token's info to
    [count, facts, context], where experta keeps frozen copies and thaws them for every test."""

    def activate_left(self, token):
        info = _info(token)
        valid = token.tag is _VALID
        context = token.context
        if not self.right_memory:
            if valid:
                self.left_memory[info] = [0, token.data, context]
            else:
                del self.left_memory[info]
            for child in self.children:
                child.callback(token)
            return
        matcher = self.matcher
        count = 0
        for _, right_context in self.right_memory:
            if matcher(context, right_context):
                count += 1
                if not valid:
                    break
        if count == 0:
            for child in self.children:
                child.callback(token)
        if valid:
            self.left_memory[info] = [count, token.data, context]
        else:
            del self.left_memory[info]

    def activate_right(self, token):
        context = token.context
        if token.tag is _VALID:
            self.right_memory.append((token.data, context))
            inc = 1
        else:
            self.right_memory.remove((token.data, context))
            inc = -1
        matcher = self.matcher
        for left in self.left_memory.values():
            if matcher(left[2], context):
                left[0] += inc
                count = left[0]
                if (count == 0 and inc == -1) or (count == 1 and inc == 1):
                    # left.to_valid_token() / to_invalid_token(), without re-validation
                    tag = _VALID if inc == -1 else _INVALID
                    newtoken = tuple.__new__(Token, (tag, set(left[1]), dict(left[2])))
                    for child in self.children:
                        child.callback(newtoken)


_QUICK_CLASSES = {OrdinaryMatchNode: _QuickOrdinaryMatchNode, NotNode: _QuickNotNode}
_BETA_CLASSES = (_QuickOrdinaryMatchNode, _QuickNotNode)


def _quick_check(check):
    """A plain function doing what ``check`` does, for the checks this compiler emits: a
    predicate on a field, a variable bound to a field, both on one field, a fact captured.
    Others stay as they are. (experta's checks also log every test at DEBUG level; these do
    not.)"""
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
        op, value = PREDICATE_TESTS.get(match, (None, None))
        # for _index_kids: (field, the keys that pass, whether members of a set are looked up)
        if op == "eq" and type(value) in (str, int, bool):
            test.index = (what, [(type(value), value)], False)
        elif op == "in" and all(type(v) in (str, int) for v in value):
            # passes a value that is no tuple or bool and equals one of them: with the same
            # type, as the loader checked the list against the field
            test.index = (what, list(dict.fromkeys((type(v), v) for v in value)), False)
        elif op == "contains" and type(value) in (str, int):
            test.index = (what, [(type(value), value)], True)
        return test
    if type(how) is W and how.__bind__ is not None:
        bind = how.__bind__

        def capture(fact):
            value = fact.get(what, _MISSING)
            return False if value is _MISSING else {bind: value}
        return capture
    if type(how) is ANDFC and all(type(part) is FeatureCheck for part in check.expected):
        # and_match over sub-checks: all must pass; the bindings of the wildcards are merged.
        tests, binds = [], []
        for part in check.expected:
            if type(part.how) is P and part.how.__bind__ is None:
                tests.append(part.how.match)
            elif type(part.how) is W and part.how.__bind__ is not None:
                binds.append(part.how.__bind__)
            else:
                return check
        if len(binds) != len(set(binds)):
            return check

        def test_and_capture(fact):
            value = fact.get(what, _MISSING)
            if value is _MISSING:
                return False
            for match in tests:
                if not match(value):
                    return False
            return {bind: value for bind in binds} if binds else True
        return test_and_capture
    return check


class _QuickFeatureTesterNode(FeatureTesterNode):
    """An alpha node that tests the fact before copying anything, and hands it on with
    :func:`_alpha`; what passes is handled exactly as ``FeatureTesterNode._activate`` does."""

    _kids: list

    def activate(self, token):
        data = token.data
        if len(data) != 1:
            raise ValueError("an alpha node receives one fact at a time")
        fact = next(iter(data))
        match = self.matcher(fact)
        if not match:
            return None
        context = token.context
        if match is not True and isinstance(match, Mapping):
            context = _merge(context, match)
            if context is None:
                return False
        _alpha(self._kids, fact, token.tag, data, context)
        return None


class _TypeDispatchBusNode(BusNode):
    """The root node, handing each fact only to the alpha branches for its fact class.

    experta's root offers every fact to every branch, whose first test is the fact's class; a
    branch for the class is entered here without testing it again.
    """

    _by_type: dict

    def _kids_for(self, fact) -> list:
        kids = self._by_type.get(type(fact))
        if kids is None:
            kids = []
            for child in self.children:
                node = child.node
                if type(node) is _QuickFeatureTesterNode and isinstance(node.matcher, TypeCheck):
                    if node.matcher.fact_type is type(fact):
                        kids.extend(node._kids)       # the class test passes: go straight on
                else:
                    kids.append(_kid(child))
            self._by_type[type(fact)] = kids
        return kids

    def add(self, fact):
        _alpha(self._kids_for(fact), fact, _VALID, {fact}, {})

    def remove(self, fact):
        _alpha(self._kids_for(fact), fact, _INVALID, {fact}, {})


def _kid(child) -> tuple:
    """(node, test, callback) for :func:`_alpha`: alpha children carry their test, the others
    the callback that receives the token."""
    node = child.node
    if type(node) is _QuickFeatureTesterNode and child.callback.__name__ == "activate":
        return node, node.matcher, None
    return node, None, child.callback


class TrackedReteMatcher(ReteMatcher):
    """experta's Rete network, run with less overhead; the same activations come out.

    * only the conflict-set nodes that received tokens are asked for their changes, in
      experta's node order;
    * the root hands a fact only to the branches for its class; alpha nodes are walked by one
      function that tests a fact before building anything, with plain functions for the common
      tests, and builds a token only for the join and conflict-set nodes that receive it;
    * no node modifies a token it receives (experta's alpha nodes did, so every node copied
      every token): tokens are shared, not copied, and built without re-validating their
      facts or a debug log call per node (experta's watchers for rules, facts and activations
      still work);
    * conflict-set nodes keep their changes keyed by token info, not by ``Activation``;
    * ``reset()`` wipes each node's memory once.
    """

    #: The budget of every run (set by the engine before it runs; see :class:`Budget`).
    limits = Budget()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending: set[int] = set()
        # [partial matches left, activations left] in this run, shared with the nodes
        self._budget = [self.limits.partial_matches, self.limits.activations]
        self._nodes = self._get_conflict_set_nodes()
        for rank, node in enumerate(self._nodes):
            node.__class__ = _TrackedConflictSetNode
            node._pending = self._pending
            node._rank = rank
            node._budget = self._budget
            node._reset()
        nodes = _all_nodes(self.root_node)
        for node in nodes:
            if type(node) is FeatureTesterNode:
                node.__class__ = _QuickFeatureTesterNode
                if not isinstance(node.matcher, TypeCheck):   # the root dispatches on these
                    node.matcher = _quick_check(node.matcher)
            elif type(node) in _QUICK_CLASSES:
                node.__class__ = _QUICK_CLASSES[type(node)]
                node._budget = self._budget
                if type(node.matcher) is SameContextCheck:
                    node.matcher = _same_context
        # The parents hold bound methods taken when the network was wired: bind them again so
        # the new classes' methods are the ones called.
        for node in nodes:
            node.children[:] = [ChildNode(child.node, getattr(child.node, child.callback.__name__))
                                for child in node.children]
        for node in nodes:
            if type(node) is _QuickFeatureTesterNode:
                node._kids = _index_kids([_kid(child) for child in node.children])
        self.root_node.__class__ = _TypeDispatchBusNode
        self.root_node._by_type = {}
        self._touched: set[int] = set()
        # The nodes with memories besides the conflict-set nodes: joins and negations (and
        # anything else, wiped on every reset).
        memories = [node for node in nodes if not isinstance(node, (NoMemory, ConflictSetNode))]
        self._memories = [node for node in memories if type(node) in _BETA_CLASSES]
        self._other_memories = [node for node in memories if type(node) not in _BETA_CLASSES]

    def _get_conflict_set_nodes(self):
        # experta's own walk keeps a list and tests membership in it (quadratic in rules: a
        # second at 5,000 rules); the same walk and order with a set of ids.
        # Depth first, children in order, with a stack (a rule of many conditions is a long
        # chain of nodes: recursion would hit Python's limit).
        seen: set[int] = set()
        found = []
        stack = [self.root_node]
        while stack:
            node = stack.pop()
            if id(node) in seen:    # its whole subtree was walked the first time
                continue
            seen.add(id(node))
            if isinstance(node, ConflictSetNode):
                found.append(node)
            stack.extend(child.node for child in reversed(node.children))
        return tuple(found)

    def changes(self, adding=None, deleting=None):
        if deleting:
            for fact in deleting:
                self.root_node.remove(fact)
        if adding:
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
            self._touched |= self._pending
            self._pending.clear()
        return added, removed

    def reset(self):
        # experta resets recursively, visiting a node once per path to it (thousands of visits
        # for a few hundred nodes); wiping each node's memory once has the same effect. The
        # conflict-set nodes' reset also drops changes left from an interrupted run: they
        # belong to the old facts (experta's matcher would hand them to the next run's agenda).
        # Only what a run filled needs wiping: the conflict-set nodes that received a token
        # (their ranks are collected as they report it) and the join and negation nodes
        # holding tokens.
        self._budget[:] = [self.limits.partial_matches, self.limits.activations]
        nodes = self._nodes
        for rank in self._touched | self._pending:
            nodes[rank]._reset()
        self._touched.clear()
        self._pending.clear()
        for node in self._memories:
            if node.left_memory or node.right_memory:
                node._reset()
        for node in self._other_memories:
            node._reset()


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
        rule = activation.rule
        context = activation.context
        # What the key takes from the rule (salience, alternative, the names of its captured
        # facts in sorted order) is the same for all its activations: work it out once.
        fixed = rule.__dict__.get("_stable_key")
        if fixed is None:
            fixed = rule._stable_key = (
                rule.salience, -getattr(rule._wrapped, "variant", 0),
                tuple(sorted(name for name in context if name.startswith("_f"))))
        salience, variant, names = fixed
        ids = sorted([f["__factid__"] for f in activation.facts], reverse=True)
        return (salience, ids, variant, tuple([context[name]["__factid__"] for name in names]))

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


class QuickEngine(KnowledgeEngine):
    """experta's engine with a leaner ``reset``, ``run`` and fact declaration for the compiled
    rules; the fact list, agenda, strategy and network are experta's, in the same states.

    * ``reset()`` works out once which arguments each deffacts takes (experta inspects their
      signatures on every reset) and finds rules and deffacts from a cache (experta walks the
      class with ``inspect.getmembers``);
    * ``run()`` is experta's loop, calling each rule's compiled action directly (``fire``, with
      the activation's context) and formatting the firing log line only when it is logged;
    * :meth:`quick_declare` puts a fact into the fact list as ``FactList.declare`` does with
      duplicates allowed, skipping what cannot fail for the facts :class:`Engine` builds
      (plain values, no field constraints, no ``__`` in names, a class without field schemas)
      and the duplicate counter (never read when duplicates are allowed and nothing is
      retracted); with ``update`` it updates the agenda as ``declare`` does outside a run.
    """

    def get_rules(self):
        rules = self.__dict__.get("_rules_cache")
        if rules is None:
            rules = self._rules_cache = KnowledgeEngine.get_rules(self)
        return rules

    def get_deffacts(self):
        deffacts = self.__dict__.get("_deffacts_cache")
        if deffacts is None:
            deffacts = self._deffacts_cache = []
            for deffact in KnowledgeEngine.get_deffacts(self):
                parameters = inspect.signature(deffact).parameters.values()
                takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters)
                deffacts.append((deffact, None if takes_any else {p.name for p in parameters}))
        return deffacts

    def reset(self, **kwargs):
        self.agenda = Agenda()
        self.facts = FactList()
        self.matcher.reset()
        facts = []
        for deffact, names in self.get_deffacts():
            facts.extend(deffact(**kwargs) if names is None
                         else deffact(**{k: v for k, v in kwargs.items() if k in names}))
        self._KnowledgeEngine__declare(*facts)
        self.running = False

    def quick_declare(self, fact, update: bool = True):
        facts = self.facts
        index = facts.last_index
        dict.__setitem__(fact, "__factid__", index)
        facts[index] = fact
        facts.last_index = index + 1
        facts.added.append(fact)
        if _FACTS_LOG.isEnabledFor(logging.INFO):
            _FACTS_LOG.info(" ==> %s: %r", fact, fact)
        if update and not self.running:
            self.strategy.update_agenda(self.agenda, *self.get_activations())
        return fact

    def run(self, steps=float("inf")):
        self.running = True
        execution = 0
        matcher, strategy = self.matcher, self.strategy
        log_rules = _RULES_LOG.isEnabledFor(logging.INFO)
        while steps > 0 and self.running:
            added, removed = matcher.changes(*self.facts.changes)
            if added or removed:
                strategy.update_agenda(self.agenda, added, removed)
            if watchers.worth("AGENDA", "DEBUG"):  # pragma: no cover - as experta logs it
                for idx, act in enumerate(self.agenda.activations):
                    watchers.AGENDA.debug("%d: %r %r", idx, act.rule.__name__,
                                          ", ".join(str(f) for f in act.facts))
            activation = self.agenda.get_next()
            if activation is None:
                break
            steps -= 1
            execution += 1
            if log_rules:
                _RULES_LOG.info("FIRE %s %s: %s", execution, activation.rule.__name__,
                                ", ".join(str(f) for f in activation.facts))
            activation.rule._wrapped.fire(activation.context)
        self.running = False


_FACTS_LOG = watchers.FACTS
_RULES_LOG = watchers.RULES
