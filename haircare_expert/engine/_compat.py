"""Import experta 1.9.4 cleanly on Python 3.10+: the one place experta is first imported.

* experta 1.9.4 (the current PyPI release) pins ``frozendict==1.2``, and frozendict 1.2
  subclasses ``collections.Mapping``, an alias Python 3.10 removed (it lives in
  ``collections.abc``). Restoring the aliases before experta is imported keeps a plain
  ``pip install`` working with the pinned versions, so ``pip check`` stays clean.
* ``experta.engine`` and ``experta.watchers`` call ``logging.basicConfig()`` when imported,
  which gives the root logger a stderr handler in whatever program imports haircare_expert. A
  library configures no logging: the handlers experta added are taken off again (an application
  that configured logging first keeps its own; basicConfig does nothing then). experta's
  loggers get a ``NullHandler`` and stay enabled, so an application can still watch them.

The package ``__init__`` imports this module before anything else in the engine.
"""
import collections
import collections.abc
import logging

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "Hashable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

_root = logging.getLogger()
_before = list(_root.handlers)
import experta  # noqa: E402,F401  (after the aliases; its basicConfig is undone below)

for _handler in _root.handlers[:]:
    if _handler not in _before:
        _root.removeHandler(_handler)
for _logger in ("experta", "experta.watchers"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())
del _root, _before, _name
