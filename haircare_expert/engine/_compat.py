"""Make experta 1.9.4 importable on Python 3.10+.

experta 1.9.4 (the current PyPI release) pins ``frozendict==1.2``, and frozendict 1.2 subclasses
``collections.Mapping``, an alias Python 3.10 removed (it lives in ``collections.abc``). Restoring
the aliases before experta is imported keeps a plain ``pip install`` working with the pinned
versions, so ``pip check`` stays clean. Only :mod:`haircare_expert.engine.compiler` imports this.
"""
import collections
import collections.abc

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "Hashable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
