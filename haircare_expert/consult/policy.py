"""The plan policy (``facts/plan.yaml``, KNOWLEDGE section I): how many new products a week,
which are scalp products, the order of the actions, the words of the plan's own lines.

:mod:`haircare_expert.consult.plan` applies it; this module loads it and reads it the way the
plan stage asks, for every client, with what it says worked out once.
"""
from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import RuleError


class Policy:
    """The plan policy, as loaded from ``facts/plan.yaml`` (not changed once loaded; a plain
    class: a frozen dataclass costs a cold start ~1.4 ms to define)."""

    def __init__(self, data: dict):
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    # A policy is read once per client for every product: what it says is worked out once.
    @cached_property
    def new_per_week(self) -> int:
        return int(self.data["limits"]["new_per_week"])

    @cached_property
    def scalp_per_week(self) -> int:
        return int(self.data["limits"]["leave_on_scalp_per_week_when_reactive"])

    @cached_property
    def gap(self) -> int:
        return int(self.data["limits"]["weeks_between_starts"])

    @cached_property
    def sets(self) -> dict[str, frozenset]:
        """Each list of names in the policy (``scalp_products``...) as a set."""
        sets = {}
        for key, value in self.data.items():
            if isinstance(value, list):
                try:
                    sets[key] = frozenset(value)
                except TypeError:       # a list of lists (one_per_need)
                    pass
        return sets

    @cached_property
    def action_order(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.data["action_order"])}

    def rank(self, needs: set[str] | frozenset, product: str) -> tuple:
        """A new product's rank: the first need it answers, then its place in the product list
        (one past the end of a list that does not name it)."""
        need_order, products = self._places["needs"], self._places["products"]
        last_need, last_product = len(self.data["rank"]["needs"]), len(self.data["rank"]["products"])
        need_rank = min([need_order[n] for n in needs if n in need_order], default=last_need)
        return (need_rank, products.get(product, last_product), product)

    @cached_property
    def _places(self) -> dict[str, dict[str, int]]:
        """Each need's and product's place in the rank lists (the first, if named twice)."""
        return {part: {name: i for i, name in reversed(list(enumerate(self.data["rank"][part])))}
                for part in ("needs", "products")}


@lru_cache(maxsize=1)
def load_policy() -> Policy:
    """The plan policy shipped in ``facts/plan.yaml``."""
    ref = yamlio.package_files("facts") / "plan.yaml"
    where = "facts/plan.yaml"
    data = yamlio.loads(ref.read_text(encoding="utf-8"), where, RuleError)
    missing = [k for k in ("limits", "reactive", "leave_on_scalp", "scalp_products", "practices",
                           "patch_test_always", "no_new_products_with", "one_per_need", "rank",
                           "action_order", "patch_test_rule", "words") if k not in (data or {})]
    if missing:
        raise RuleError(where, f"the plan policy lacks {', '.join(missing)}")
    return Policy(data)
