"""The beta part of the network: experta's join and negation nodes, run with less overhead.

They decide exactly what experta's ``OrdinaryMatchNode`` and ``NotNode`` decide, but:

* a token is passed as its three parts, ``callback(tag, facts, context)``, never built as a
  ``Token`` (no node here modifies one, so the parts are shared instead of copied), without
  re-validating its facts or a log call per pair tested;
* their memories hold each token's (facts, context) as they are, where experta holds frozen
  copies (``TokenInfo``) and thaws the context again for every test: the same contents,
  compared the same way;
* a token's facts are a tuple, the left token's facts before the right one's (experta: a
  set; only the conflict-set nodes read them, as a set of fact ids);
* a node hands the matcher each memory it starts filling (``_touched``), so a reset empties
  only the memories a run filled (in place: the alpha terminals hold them too);
* the side an alpha node feeds shares that node's one memory with its siblings (filled once
  by :func:`~.alpha.deliver`), and its ``pair_left`` / ``pair_right`` / ``count_right`` is
  called only when the other side holds something (see ``rete._terminals``);
* the joins count the run's partial matches against its budget (:mod:`.budget`).

Every context here has string keys only: the compiler binds no negated variables (``~W``),
which are the only source of experta's ``(False, name)`` keys.
"""
from __future__ import annotations

from contextlib import suppress

# experta is importable: the package __init__ ran _compat first
from experta.matchers.rete.nodes import NotNode, OrdinaryMatchNode
from experta.matchers.rete.token import Token

from haircare_expert.engine.alpha import VALID
from haircare_expert.engine.budget import BudgetExceeded

_INVALID = Token.TagType.INVALID


def same_context(left: dict, right: dict) -> bool:
    """``SameContextCheck()(left, right)`` for contexts with string keys only, without its
    per-pair log call: every variable bound on both sides has the same value."""
    for key, value in left.items():
        if key in right and value != right[key]:
            return False
    return True


class QuickJoinNode(OrdinaryMatchNode):
    """A join node doing what experta's does (``OrdinaryMatchNode.__activation``).

    The variables both sides bind are the same for every pair a node tests (each side's
    tokens come from one parent, whose patterns bind a fixed set of names): they are found on
    the first pair and compared alone, where experta's check walks the whole left context."""

    _budget: list
    _touched: list
    _out: list
    _shared: tuple | None = None

    def activate_left(self, tag, data, context):
        self._remember(self.left_memory, tag, data, context)
        if self.right_memory:
            self.pair_left(tag, data, context)

    def activate_right(self, tag, data, context):
        self._remember(self.right_memory, tag, data, context)
        if self.left_memory:
            self.pair_right(tag, data, context)

    def _remember(self, memory, tag, data, context):
        """Add a valid token to one side's memory (noting the memory for the next reset when
        it was empty), or take an invalid one out."""
        if tag is VALID:
            if not memory:
                self._touched.append(memory)
            memory.append((data, context))
        else:
            with suppress(ValueError):
                memory.remove((data, context))

    def pair_left(self, tag, data, context):
        """A left token (already in, or out of, the left memory) against the right memory."""
        self._pair(tag, data, context, self.right_memory, True)

    def pair_right(self, tag, data, context):
        """A right token (already in, or out of, the right memory) against the left memory."""
        self._pair(tag, data, context, self.left_memory, False)

    def _pair(self, tag, data, context, others, is_left):
        """A token of one side against each token in ``others``, the other side's memory: each
        pair that agrees on the variables both sides bind goes on down, its facts the left
        token's first."""
        shared = self._shared
        if shared is None:
            shared = self._shared = tuple(key for key in context if key in others[0][1])
        budget, out = self._budget, self._out
        for other_data, other_context in others:
            for key in shared:
                if context[key] != other_context[key]:
                    break
            else:
                merged = {**context, **other_context}
                budget[0] -= 1
                if budget[0] < 0:
                    raise BudgetExceeded("partial_matches", self)
                facts = data + other_data if is_left else other_data + data
                for callback in out:
                    callback(tag, facts, merged)


class QuickNotNode(NotNode):
    """A negation node doing what experta's does (``NotNode._activate_left/_right``). Its right
    memory holds each token's (facts, context), and its left memory maps a token's facts (by
    identity: a left token's facts, in order, decide its context) to [count, facts,
    context]. As in :class:`QuickJoinNode`, only the variables both sides bind are compared
    (found on the first pair: each side's tokens bind a fixed set of names)."""

    _touched: list
    _out: list
    _shared: tuple | None = None

    def _shared_keys(self, left: dict, right: dict) -> tuple:
        shared = self._shared = tuple(key for key in left if key in right)
        return shared

    def activate_left(self, tag, data, context):
        key = tuple(map(id, data))
        valid = tag is VALID
        if valid and not self.left_memory:
            self._touched.append(self.left_memory)
        count = 0
        if self.right_memory:
            shared = self._shared
            for _, right_context in self.right_memory:
                if shared is None:
                    shared = self._shared_keys(context, right_context)
                for name in shared:
                    if context[name] != right_context[name]:
                        break
                else:
                    count += 1
                    if not valid:
                        break
        if count == 0:
            for callback in self._out:
                callback(tag, data, context)
        if valid:
            self.left_memory[key] = [count, data, context]
        else:
            del self.left_memory[key]

    def activate_right(self, tag, data, context):
        if tag is VALID:
            if not self.right_memory:
                self._touched.append(self.right_memory)
            self.right_memory.append((data, context))
        else:
            self.right_memory.remove((data, context))
        if self.left_memory:
            self.count_right(tag, data, context)

    def count_right(self, tag, data, context):
        """A right token (already in, or out of, the right memory) counted against each left
        token it matches; a left token whose count leaves or reaches 0 goes out again."""
        inc = 1 if tag is VALID else -1
        shared = self._shared
        for left in self.left_memory.values():
            if shared is None:
                shared = self._shared_keys(left[2], context)
            left_context = left[2]
            for name in shared:
                if left_context[name] != context[name]:
                    break
            else:
                left[0] += inc
                count = left[0]
                if (count == 0 and inc == -1) or (count == 1 and inc == 1):
                    # left.to_valid_token() / to_invalid_token(), without re-validation
                    newtag = VALID if inc == -1 else _INVALID
                    for callback in self._out:
                        callback(newtag, left[1], dict(left[2]))


QUICK_CLASSES = {OrdinaryMatchNode: QuickJoinNode, NotNode: QuickNotNode}
