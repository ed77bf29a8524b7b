"""Inference: the rulebook compiled onto experta, and a plain evaluator beside it.

experta 1.9.4 needs ``collections.Mapping`` on Python 3.10+ (see ``_compat``): it is restored
here, when the package is first imported, so no module of it can import experta before.
"""
from haircare_expert.engine import _compat  # noqa: F401  (must run before experta is imported)
