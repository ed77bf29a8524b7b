"""``haircare batch --scheduler ADDRESS``: the batch on a Dask cluster (``dask.distributed``).

The input lines are cut into partitions; each partition is advised on a worker, which compiles
the rules once (one per thread running tasks at once: an engine is not shared between threads) and keeps them for
the following partitions; the results come back in input order and are written by
:func:`haircare_expert.consult.batch.run` exactly as a local run writes them, so the output is
byte-identical to ``haircare batch`` without a cluster.

The workers load the same rule folders (the same paths, so a cluster on several machines needs
them on a shared or copied path) and check that their knowledge base has the fingerprint of the
client's: a worker with other rules is an error, never a silently different answer.

:func:`map_partitions` and :func:`worker_state` are the reusable part: any per-item work
(``replay --all`` re-running stored consultations after a rule edit) maps a function over
partitions the same way. ``distributed`` is an optional dependency (the ``dask`` extra).
"""
from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from haircare_expert.errors import HaircareError, NotFoundError

#: Input lines a partition holds: big enough that a task's overhead (~1 ms of scheduling and
#: transfer) is small next to its work (~1 ms a profile), small enough to spread over workers.
PARTITION = 500

_LOCK = threading.Lock()
_IDLE: dict[Hashable, list] = {}     # per key: states built in this process, not lent out now
_MISSING = object()


def connect(scheduler, timeout: str = "15s"):
    """A ``distributed.Client`` for ``scheduler`` (an address such as ``tcp://host:8786``, or a
    ``Client`` already made, returned as it is); NotFoundError when none answers in ``timeout``."""
    try:
        from distributed import Client
    except ImportError:
        raise NotFoundError("--scheduler", "running on a Dask cluster needs the 'distributed' package "
                            "(pip install 'haircare-expert[dask]')") from None
    if isinstance(scheduler, Client):
        return scheduler
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise NotFoundError(str(scheduler), f"no Dask scheduler answers at this address ({exc})") from None


@contextmanager
def worker_state(key: Hashable, build: Callable[[], Any]) -> Iterator[Any]:
    """``with worker_state(key, build) as state:`` -- what ``build()`` returns (the compiled
    rules, say), lent to one task at a time and kept in the worker process for the next
    tasks: a worker builds one per thread that runs tasks at once, not one per task (an
    engine is not shared between threads). In a worker process of its own a new state is
    frozen out of the garbage collector's way
    (:func:`haircare_expert.engine.freeze.freeze_compiled`)."""
    with _LOCK:
        idle = _IDLE.setdefault(key, [])
        state = idle.pop() if idle else _MISSING
    if state is _MISSING:
        state = build()
        if multiprocessing.parent_process() is not None:
            from haircare_expert.engine.freeze import freeze_compiled
            freeze_compiled()
    try:
        yield state
    finally:
        with _LOCK:
            _IDLE[key].append(state)


def partitions(items: Iterable, size: int = PARTITION) -> Iterator[list]:
    """``items`` cut into lists of ``size``, in order."""
    iterator = iter(items)
    while part := list(islice(iterator, size)):
        yield part


def map_partitions(scheduler, func: Callable, parts: Iterable, *args, in_flight: int | None = None) -> Iterator:
    """``func(part, *args)`` on the cluster for each of ``parts``, results yielded in the order
    of ``parts``, with a bounded number of partitions in flight (so a file of millions of lines
    is never all in memory). ``func`` must be importable on the workers (a module-level
    function); ``args`` are sent once and shared by all tasks. An exception in a task is raised
    here, as it was raised there."""
    client = connect(scheduler)
    pending: deque = deque()
    try:
        workers = max(1, sum(client.nthreads().values()))
        limit = in_flight or workers * 3
        shared = [client.scatter(arg, broadcast=True) if _big(arg) else arg for arg in args]
        for part in parts:
            pending.append(client.submit(func, part, *shared, pure=False))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        if client is not scheduler:
            client.close()


def _big(arg) -> bool:
    return isinstance(arg, (bytes, list, dict)) and len(arg) > 100


# -- haircare batch on the cluster --------------------------------------------------------------
def batch_parts(name: str, lines: Iterable[tuple[int, bytes]], scheduler, advisor, rules_dirs: tuple,
                size: int = PARTITION) -> Iterator[tuple[int, int, bytes]]:
    """(last line number, profiles, output bytes) per partition of ``lines``, advised on the
    cluster and yielded in input order: what :func:`haircare_expert.consult.batch.run` writes."""
    fingerprint = advisor.rulebook.fingerprint
    rules_dirs = tuple(str(Path(folder).resolve()) for folder in rules_dirs)  # a worker's cwd may differ
    for last, count, text, error in map_partitions(scheduler, _advise_partition, partitions(lines, size),
                                                   name, rules_dirs, fingerprint):
        if error is not None:
            from haircare_expert.consult.batch import _rebuild
            raise _rebuild(*error)
        yield last, count, text


def _advise_partition(part: list[tuple[int, bytes]], name: str, rules_dirs: tuple, fingerprint: str):
    """On a worker: (last line number, profiles, output bytes, error as data or None)."""
    from haircare_expert.consult import batch

    last = part[-1][0]
    try:
        with worker_state(("batch", rules_dirs), lambda: _build(rules_dirs)) as (advisor, encode):
            if advisor.rulebook.fingerprint != fingerprint:
                raise NotFoundError(", ".join(rules_dirs) or "rules",
                                    "the rules on this Dask worker differ from the client's "
                                    f"(fingerprint {advisor.rulebook.fingerprint[:19]}, expected {fingerprint[:19]})")
            out = batch._advise_chunk(advisor, name, part, encode)
    except HaircareError as exc:
        return last, 0, b"", (type(exc), exc.where, exc.what)
    return last, len(out), batch._lines(out), None


def _build(rules_dirs: tuple):
    from haircare_expert.consult.advisor import Advisor
    from haircare_expert.consult.batch import Encoder
    return Advisor(extra_rules=rules_dirs), Encoder()
