"""What one consultation may cost the network: the run's budget and the error past it.

:class:`Budget` bounds the partial matches the join nodes may build and the activations the
rules may get in one consultation; the nodes count down a shared ``[partial matches left,
activations left]`` list and raise :class:`BudgetExceeded` naming the node past it, which
:func:`rule_of` turns into the rule the compiler names in its error (exit 6).
"""
from __future__ import annotations

from dataclasses import dataclass

# experta is importable: the package __init__ ran _compat first
from experta.matchers.rete.nodes import ConflictSetNode


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
