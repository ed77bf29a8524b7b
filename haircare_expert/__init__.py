"""haircare-expert: a rule-based expert system for hair and scalp care.

The library API: :class:`Advisor` (knowledge base compiled once, ``consult*`` per client),
:class:`Rulebook`, :class:`Vocabulary`, :func:`render` and the :class:`HaircareError` hierarchy.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("haircare-expert")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that is not installed
    __version__ = "0.0.0+unknown"

from .errors import HaircareError  # noqa: E402

__all__ = ["__version__", "HaircareError", "Advisor", "Rulebook", "Vocabulary", "render"]


def __getattr__(name):
    # Lazy, so `haircare --version` and error paths do not pay for experta and Jinja imports.
    if name == "Advisor":
        from .consultation import Advisor
        return Advisor
    if name == "Rulebook":
        from .rulebook import Rulebook
        return Rulebook
    if name == "Vocabulary":
        from .vocabulary import Vocabulary
        return Vocabulary
    if name == "render":
        from .report import render
        return render
    raise AttributeError(name)
