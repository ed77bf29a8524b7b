"""The beta part of the network: experta's join and negation nodes, run with less overhead.

They decide exactly what experta's ``OrdinaryMatchNode`` and ``NotNode`` decide, but:

* no node modifies a token it receives, so tokens are shared instead of copied, and built
  without re-validating their facts or a log call per pair tested;
* their memories hold each token's (facts, context) as they are, where experta holds frozen
  copies (``TokenInfo``) and thaws the context again for every test: the same contents,
  compared the same way;
* a token's facts are a tuple, the left token's facts before the right one's (experta: a
  set; only the conflict-set nodes read them, as a set of fact ids);
* a node hands the matcher each memory it starts filling (``_touched``), so a reset empties
  only the memories a run filled (in place: nothing else holds them);
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
    _shared: tuple | None = None

    def activate_left(self, token):
        self._join(token, self.left_memory, self.right_memory, True)

    def activate_right(self, token):
        self._join(token, self.right_memory, self.left_memory, False)

    def _join(self, token, branch_memory, matching_memory, is_left):
        context = token.context
        if token.tag is VALID:
            if not branch_memory:
                self._touched.append(branch_memory)
            branch_memory.append((token.data, context))
        else:
            with suppress(ValueError):
                branch_memory.remove((token.data, context))
        if not matching_memory:
            return
        shared = self._shared
        if shared is None:
            shared = self._shared = tuple(key for key in context if key in matching_memory[0][1])
        budget, children = self._budget, self.children
        tag, data = token.tag, token.data
        for other_data, other_context in matching_memory:
            for key in shared:
                if context[key] != other_context[key]:
                    break
            else:
                facts = data + other_data if is_left else other_data + data
                newtoken = tuple.__new__(Token, (tag, facts, {**context, **other_context}))
                budget[0] -= 1
                if budget[0] < 0:
                    raise BudgetExceeded("partial_matches", self)
                for child in children:
                    child.callback(newtoken)


class QuickNotNode(NotNode):
    """A negation node doing what experta's does (``NotNode._activate_left/_right``). Its right
    memory holds each token's (facts, context), and its left memory maps a token's facts (by
    identity: a left token's facts, in order, decide its context) to [count, facts,
    context]."""

    _touched: list

    def activate_left(self, token):
        key = tuple(map(id, token.data))
        valid = token.tag is VALID
        context = token.context
        if valid and not self.left_memory:
            self._touched.append(self.left_memory)
        count = 0
        if self.right_memory:
            matcher = self.matcher
            for _, right_context in self.right_memory:
                if matcher(context, right_context):
                    count += 1
                    if not valid:
                        break
        if count == 0:
            for child in self.children:
                child.callback(token)
        if valid:
            self.left_memory[key] = [count, token.data, context]
        else:
            del self.left_memory[key]

    def activate_right(self, token):
        context = token.context
        if token.tag is VALID:
            if not self.right_memory:
                self._touched.append(self.right_memory)
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
                    tag = VALID if inc == -1 else _INVALID
                    newtoken = tuple.__new__(Token, (tag, left[1], dict(left[2])))
                    for child in self.children:
                        child.callback(newtoken)


QUICK_CLASSES = {OrdinaryMatchNode: QuickJoinNode, NotNode: QuickNotNode}
