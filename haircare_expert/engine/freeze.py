"""Keep the garbage collector off a compiled network in a long-lived process.

A compiled rule base is hundreds of thousands of long-lived objects (5,000 rules: the network,
its closures, the rulebook). Python's full collection walks all of them every few hundred
thousand allocations: 260-280 ms at 5,000 rules, about once every 7 consultations, where a
consultation takes ~40 ms. :func:`freeze_compiled` moves everything alive into the permanent
generation (``gc.freeze()``), after one collection so no garbage goes with it; the collector
then never scans the network again, and forked workers do not touch the pages they share.

Call it once, right after building the :class:`~haircare_expert.consult.advisor.Advisor` (or
``Engine``), in processes that advise many clients: the batch, the interview, ``serve``, the
benchmarks. Not in a library constructor: a program that builds many short-lived advisors
(a test suite) would keep each one forever. Frozen objects are never freed, by design.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


def freeze_compiled() -> int:
    """Collect once, then freeze every object alive (the compiled network with them); return
    how many objects are frozen in all."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextmanager
def collector_paused():
    """Keep the cyclic collector from running inside the block (one consultation's inference),
    then let it run as before. What a run allocates is freed by reference counting (the
    caller empties the network's memories before the block ends): the collector would only
    scan those short-lived tokens and contexts. What stays (the run's result) is counted as
    usual: when it passes the collector's threshold, the young generation is collected here,
    as it would have been during the block, so the cost stays with the run rather than landing
    on whatever allocates next. With threads, the thread that found the collector on turns it
    back on; another thread's run meanwhile may be collected."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
            if gc.get_count()[0] > gc.get_threshold()[0]:
                gc.collect(0)
