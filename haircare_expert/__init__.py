"""haircare-expert: a rule-based expert system for hair and scalp care.

The library API: :class:`Advisor` (knowledge base compiled once, ``consult*`` per client),
:class:`Rulebook`, :class:`Vocabulary`, :func:`render` and the :class:`HaircareError` hierarchy.
"""
from haircare_expert.errors import HaircareError

__all__ = ["__version__", "HaircareError", "Advisor", "Rulebook", "Vocabulary", "render"]


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("haircare-expert")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout that is not installed
        return "0.0.0+unknown"


def __getattr__(name):
    # Lazy, so `haircare --version` and error paths do not pay for experta and Jinja imports,
    # and no command pays for importlib.metadata (about 25 ms) unless it shows the version.
    if name == "__version__":
        globals()["__version__"] = found = _package_version()
        return found
    if name == "Advisor":
        from haircare_expert.consult.advisor import Advisor
        return Advisor
    if name == "Rulebook":
        from haircare_expert.knowledge.rulebook import Rulebook
        return Rulebook
    if name == "Vocabulary":
        from haircare_expert.knowledge.vocabulary import Vocabulary
        return Vocabulary
    if name == "render":
        from haircare_expert.render.formats import render
        return render
    raise AttributeError(name)
