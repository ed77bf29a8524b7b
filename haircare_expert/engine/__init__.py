"""Inference: the rulebook compiled onto experta, and a plain evaluator beside it.

* :mod:`.compiler`: rules -> an experta ``KnowledgeEngine`` (public experta API only);
* :mod:`.rete`: the speed-ups that reach into experta's internals (why experta is pinned),
  with :mod:`.alpha` (the alpha walk), :mod:`.checks` (its tests), :mod:`.beta` (joins,
  negations), :mod:`.agenda` (rule nodes, the agenda, the engine loop) and :mod:`.budget` (a
  run's budget);
* :mod:`.limits`: what a rule may ask of the engine, checked before compiling;
* :mod:`.evaluator`: the same rules evaluated directly in plain Python (no Rete);
* :mod:`.freeze`: keeping the garbage collector off a compiled network in long-lived processes.

experta 1.9.4 needs ``collections.Mapping`` on Python 3.10+ and configures logging when
imported (see ``_compat``): both are dealt with here, when the package is first imported, so
no module of it can import experta before.
"""
from haircare_expert.engine import _compat  # noqa: F401  (must run before experta is imported)
