"""The alpha part of the network, walked fast: a fact is tested before anything is built.

experta's alpha nodes (``FeatureTesterNode``) each test one thing and hand a copied token to
every child. Here each alpha node keeps its children sorted once, at build time, into five
lists (its "kids"), and :func:`walk` goes through them:

* ``callbacks``: the join, negation and conflict-set nodes fed by this node, as its
  "terminal" (:func:`deliver`): the token's parts (``tag, facts, context``: no ``Token`` is
  built) go once into a memory the node's joins and negations share, and only those whose
  other side holds something are called;
* ``lookups``: where three or more sibling nodes test one field against constants (``type:
  curly``, ``type: {in: [curly, coily]}``, ``concerns: {contains: frizz}``), one dict maps the
  fact's value (or each member of its set) to the children that pass: one lookup instead of a
  test each, and the children's lists merged into one, walked in one step; and where three or
  more predicates (or predicate-guarded captures) test one set field with ``contains_any`` /
  ``contains_all``, a screen (:func:`_screen`) keyed by the set's members selects the few that
  can pass, which are then tested as usual;
* ``predicates``: a predicate on one field, called on the field's value directly;
* ``captures``: a variable bound to a field's value, or the fact captured: the binding is
  added to the token's context (a copy), as experta merges it;
* ``others``: any other test (several tests on one field): its bindings are merged into the
  token's context as experta merges them.

The tests are plain functions built by :func:`~.checks.quick_check` from experta's check
objects; they are built from the compiled rules' own structures (the compiler's predicates and
the operator/value pairs in :data:`~.checks.PREDICATE_TESTS`), never from rule text: nothing is
generated as source code or evaluated. A fact whose content is fixed in a rule (a conclusion
with every field given, the InitialFact) is walked once and then replayed (:func:`replay`):
the same deliveries, no test made again. Which tokens reach which nodes is exactly what
experta's nodes decide; only the order siblings are visited in changes, and nothing downstream
depends on it (the agenda orders activations totally).

Tokens here carry their facts as a tuple (experta: a set) and are never modified, so they are
shared, not copied; every node that receives them is one of this package's.
"""
from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

# experta is importable: the package __init__ ran _compat first
from experta.matchers.rete.check import TypeCheck
from experta.matchers.rete.nodes import BusNode, FeatureTesterNode
from experta.matchers.rete.token import Token

from haircare_expert.engine.checks import MISSING, PREDICATE_TESTS, index_of

SCREEN = object()   # a lookup that is a screen (see _screen)
VALID = Token.TagType.VALID
INVALID = Token.TagType.INVALID
RECORD = object()   # a walk that records where a fact goes (see replay)


def merge(context: dict, match) -> dict | None:
    """The context after a passing alpha test returned the bindings ``match`` (None when they
    clash with what the context holds), as ``FeatureTesterNode._activate`` decides it; the
    context given is not changed (tokens are shared, never modified)."""
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


def walk(kids, fact, tag, data, context) -> None:
    """Pass ``fact`` (its token: ``tag``, ``data``, ``context``) to the children ``kids`` of an
    alpha node it has passed (see the module docstring for the lists)."""
    callbacks, lookups, predicates, captures, others = kids
    if callbacks:
        deliver(callbacks, tag, data, context)
    for field, table, members in lookups:
        value = fact.get(field, MISSING)
        if value is MISSING or (members and type(value) is not tuple):  # only a set has members
            continue
        if members is SCREEN:
            _screened(table, value, fact, tag, data, context)
            continue
        try:
            for key in value if members else (value,):
                for sub in table.get((type(key), key), ()):
                    walk(sub, fact, tag, data, context)
        except TypeError:               # unhashable: equal to none of the values
            continue
    for field, match, sub in predicates:
        value = fact.get(field, MISSING)
        if value is not MISSING and match(value):
            walk(sub, fact, tag, data, context)
    for guard, match, field, bind, sub, leaf in captures:
        if guard is not None:           # a predicate on the node above, tested here
            value = fact.get(guard, MISSING)
            if value is MISSING or not match(value):
                continue
        value = fact if field is None else fact.get(field, MISSING)
        if value is MISSING:
            continue
        if not context:
            merged = {bind: value}
        elif (field is None and bind not in context) or context.get(bind, value) == value:
            # (a variable bound twice: equal values; a fact always equals itself, and
            # experta's Fact.__eq__ takes four calls to say so)
            merged = context.copy()
            merged[bind] = value
        else:
            continue
        if leaf is None:
            walk(sub, fact, tag, data, merged)
        else:                           # only non-alpha children: deliver from here
            deliver(leaf, tag, data, merged)
    for test, sub in others:
        match = test(fact)
        if match is True or (match and not isinstance(match, Mapping)):
            walk(sub, fact, tag, data, context)
        elif match:
            merged = match if not context and type(match) is dict else merge(context, match)
            if merged is not None:      # (a new dict needs no merging: nothing to clash with)
                walk(sub, fact, tag, data, merged)


def deliver(terminals, tag, data, context) -> None:
    """Hand a token to the beta nodes below alpha nodes it passed: per node, its terminal
    (memory, touched, gated, always): the token into the node's memory, which its joins and
    negations share (noted in ``touched`` when it was empty); the ``gated`` ones, (opposite
    memory, callback) pairs, called only when the memory of their other side holds something
    (otherwise storing it was all they had to do); the ``always`` callbacks called as they
    are (see :func:`haircare_expert.engine.rete.terminal_of`)."""
    if tag is RECORD:   # a plan being recorded (see replay): data is the plan
        data.append((terminals, context))
        return
    for memory, touched, gated, always in terminals:
        if memory is not None:
            if tag is VALID:
                if not memory:
                    touched.append(memory)
                memory.append((data, context))
            else:
                with suppress(ValueError):
                    memory.remove((data, context))
            for opposite, callback in gated:
                if opposite:
                    callback(tag, data, context)
        for callback in always:
            callback(tag, data, context)


def replay(plan: list, fact) -> None:
    """Deliver a new ``fact`` where the ``plan`` says a fact of its content goes: what
    :func:`walk` would deliver, without testing anything again. A rule's conclusion whose
    fields are all given in the rule has the same content every time it is declared, and the
    alpha tests read nothing but the content: the plan is each :func:`deliver` call's
    terminals and context, the context as (name, value, is it the fact) triples (``None``:
    empty; a name: the fact alone), each handed to :func:`deliver` as a valid token."""
    data = (fact,)
    for terminals, template in plan:
        if template is None:
            context = {}
        elif type(template) is str:
            context = {template: fact}
        else:
            context = {name: fact if is_fact else value for name, value, is_fact in template}
        deliver(terminals, VALID, data, context)


def _screened(table: dict, value: tuple, fact, tag, data, context) -> None:
    """Walk the guarded tests a screen (see :func:`_screen`) selects for the set ``value``:
    each entry a member of the set names, once, in the order of the lists it came from; its
    test is still made by :func:`walk`."""
    chosen: dict = {}
    try:
        for key in value:
            for item in table.get(key, ()):
                chosen[item[0]] = item
    except TypeError:   # an unhashable member: every entry, whose tests decide (as before)
        chosen = {item[0]: item for item in table[MISSING]}
    if chosen:
        predicates, captures = [], []
        for position in sorted(chosen):
            _, is_capture, entry = chosen[position]
            (captures if is_capture else predicates).append(entry)
        walk(((), (), predicates, captures, ()), fact, tag, data, context)


class QuickFeatureTesterNode(FeatureTesterNode):
    """An alpha node whose children are walked by :func:`walk` (its ``_kids``); entered
    directly only when experta's own code hands it a token."""

    _kids: tuple

    def activate(self, token):
        data = tuple(token.data)
        if len(data) != 1:
            raise ValueError("an alpha node receives one fact at a time")
        fact = data[0]
        match = self.matcher(fact)
        if not match:
            return None
        context = token.context
        if match is not True and isinstance(match, Mapping):
            context = merge(context, match)
            if context is None:
                return False
        walk(self._kids, fact, token.tag, data, context)
        return None


class TypeDispatchBusNode(BusNode):
    """The root node, handing each fact only to the alpha branches for its fact class.

    experta's root offers every fact to every branch, whose first test is the fact's class; a
    branch for the class is entered here without testing it again.
    """

    _by_type: dict

    def _kids_for(self, fact) -> tuple:
        kids = self._by_type.get(type(fact))
        if kids is None:
            parts: tuple = ([], [], [], [], [])
            for child in self.children:
                node = child.node
                if type(node) is QuickFeatureTesterNode and isinstance(node.matcher, TypeCheck):
                    if node.matcher.fact_type is type(fact):    # the class test passes
                        for part, more in zip(parts, node._kids):
                            part.extend(more)
                else:
                    parts[0].append((None, None, (), [child.callback]))
            kids = self._by_type[type(fact)] = parts
        return kids

    def add(self, fact):
        holder = getattr(fact, "_replay", None)
        if holder is None:
            walk(self._by_type.get(type(fact)) or self._kids_for(fact), fact, VALID, (fact,), {})
        else:
            plan = holder[0]
            replay(self._plan(fact, holder) if plan is None else plan, fact)

    def _plan(self, fact, holder: list) -> list:
        """Where a fact of this content goes (see :func:`replay`), found by walking the alpha
        network once for ``fact`` and kept in ``holder``."""
        recorded: list = []
        walk(self._by_type.get(type(fact)) or self._kids_for(fact), fact, RECORD, recorded, {})
        plan = []
        for terminals, context in recorded:
            template = tuple((name, value, value is fact) for name, value in context.items())
            if not template:
                template = None
            elif len(template) == 1 and template[0][2]:
                template = template[0][0]
            plan.append((terminals, template))
        holder[0] = plan
        return plan

    def remove(self, fact):
        walk(self._kids_for(fact), fact, INVALID, (fact,), {})


def build_kids(nodes: list, terminals: dict) -> None:
    """Give every :class:`QuickFeatureTesterNode` in ``nodes`` its ``_kids`` (the five lists
    :func:`walk` reads), its children sorted once; ``terminals`` holds, by node id, the
    terminal (see :func:`deliver`) of each node with beta children."""
    alpha = [node for node in nodes if type(node) is QuickFeatureTesterNode]
    for node in alpha:
        node._kids = ([], [], [], [], [])
    for node in alpha:
        callbacks, lookups, predicates, captures, others = node._kids
        tested = []
        for child in node.children:
            sub = child.node
            if type(sub) is QuickFeatureTesterNode and child.callback.__name__ == "activate":
                tested.append((sub.matcher, sub._kids))
        if id(node) in terminals:
            callbacks.append(terminals[id(node)])
        tested, lookups[:] = index_kids(tested)
        for test, sub in tested:
            pred = getattr(test, "pred", None)
            capture = getattr(test, "capture", None)
            if pred is not None:
                predicates.append((pred[0], pred[1], sub))
            elif capture is not None:
                captures.append((None, None, capture[0], capture[1], sub, None))
            else:
                others.append((test, sub))
    for node in alpha:      # now that every node's kids are known
        captures = node._kids[3]
        captures[:] = [(*entry[:5], None if any(entry[4][1:]) else entry[4][0]) for entry in captures]
    for node in alpha:
        _hoist_captures(node._kids)
    for node in alpha:
        _screen(node._kids)
    for node in alpha:      # last: the merged lists are copies
        for _, table, members in node._kids[1]:
            if members is SCREEN:
                continue
            for key, subs in table.items():
                table[key] = [tuple([item for sub in subs for item in sub[part]] for part in range(5))]


def _hoist_captures(kids: tuple) -> None:
    """A predicate whose node only captures (one variable or the fact) becomes a capture
    guarded by the predicate: one step of :func:`walk` instead of two. Where three or more
    such guards test one field against constants, a lookup selects the captures instead."""
    predicates, captures = kids[2], kids[3]
    kept = []
    for field, match, sub in predicates:
        if not (sub[0] or sub[1] or sub[2] or sub[4]) and len(sub[3]) == 1 and sub[3][0][0] is None:
            captures.append((field, match, *sub[3][0][2:]))
        else:
            kept.append((field, match, sub))
    predicates[:] = kept
    groups: dict[tuple, list] = {}
    for entry in captures:
        index = None if entry[0] is None else index_of(entry[0], entry[1])
        if index is not None:
            groups.setdefault((index[0], index[2]), []).append((index[1], entry))
    indexed = set()
    for (field, members), entries in groups.items():
        if len(entries) < 3:
            continue
        table: dict = {}
        for keys, entry in entries:
            indexed.add(id(entry))
            for key in keys:    # the capture, unguarded, as the only kid of a node
                table.setdefault(key, []).append(([], [], [], [(None, None, *entry[2:])], []))
        kids[1].append((field, table, members))
    captures[:] = [entry for entry in captures if id(entry) not in indexed]


def _screen(kids: tuple) -> None:
    """Where three or more sibling predicates (or predicate-guarded captures) test one set field
    with ``contains_any`` / ``contains_all`` against constants, a screen keyed by those
    constants picks out, for a fact, only the entries that can pass: ``contains_any`` can pass
    only when a member of the fact's set is one of its values (so the entry is filed under each
    of them), ``contains_all`` only when its first value is a member (filed under that one).
    The selected entries are still tested (:func:`_screened`), so a screen only skips tests
    that would fail. (The constants are str or int: a set's members match them as frozenset
    membership does, by hash and equality; both tests fail on anything but a tuple.)"""
    predicates, captures = kids[2], kids[3]
    groups: dict[str, list] = {}
    for position, entry in enumerate(predicates):
        keys = _screen_keys(entry[1])
        if keys is not None:
            groups.setdefault(entry[0], []).append((position, False, entry, keys))
    for position, entry in enumerate(captures, start=len(predicates)):
        keys = None if entry[0] is None else _screen_keys(entry[1])
        if keys is not None:
            groups.setdefault(entry[0], []).append((position, True, entry, keys))
    screened = set()
    for field, entries in groups.items():
        if len(entries) < 3:
            continue
        table: dict = {MISSING: []}
        for position, is_capture, entry, keys in entries:
            screened.add(id(entry))
            item = (position, is_capture, entry)
            table[MISSING].append(item)
            for key in keys:
                table.setdefault(key, []).append(item)
        kids[1].append((field, table, SCREEN))
    if screened:
        predicates[:] = [entry for entry in predicates if id(entry) not in screened]
        captures[:] = [entry for entry in captures if id(entry) not in screened]


def _screen_keys(match) -> list | None:
    """The keys a screen files a ``contains_any`` / ``contains_all`` test under (see
    :func:`_screen`); None for other tests."""
    op, value = PREDICATE_TESTS.get(match, (None, None))
    if op not in ("contains_any", "contains_all") or not value:
        return None
    if not all(type(v) in (str, int) for v in value):
        return None
    return list(dict.fromkeys(value)) if op == "contains_any" else [next(iter(value))]


def index_kids(tested: list) -> tuple[list, list]:
    """(the tests left, lookups): the tests that check one field against constants, where at
    least three siblings do, become one lookup (field, {(type, value): [kids]}, members?).

    Indexed are tests whose passing is a lookup (their ``index`` attribute, set by
    :func:`quick_check`): equality with a value and membership in a list, keyed by the value's
    (type, value); and a set field containing a value, looked up by each member of the fact's
    set (a set has no repeats, so a child is selected once). These tests pass with no
    bindings, so the children a lookup selects are walked with the context as it is."""
    by_field: dict[tuple, list] = {}
    for test, sub in tested:
        index = getattr(test, "index", None)
        if index is not None:
            field, keys, members = index
            by_field.setdefault((field, members), []).append((keys, sub))
    groups = {group for group, tests in by_field.items() if len(tests) >= 3}
    if not groups:
        return tested, []
    left, lookups = [], []
    for test, sub in tested:
        index = getattr(test, "index", None)
        if index is None or (index[0], index[2]) not in groups:
            left.append((test, sub))
    for group in groups:
        table: dict = {}
        for keys, sub in by_field[group]:
            for key in keys:
                table.setdefault(key, []).append(sub)
        lookups.append((group[0], table, group[1]))
    return left, lookups
