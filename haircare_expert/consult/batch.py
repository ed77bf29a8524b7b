"""Many profiles at once: JSON lines in, one contract JSON per line out, in input order.

Each input line is one profile as a JSON object (blank lines are skipped, but still counted so
errors name the right line). Each output line is the consultation JSON of ``haircare advise
--format json`` (the ``haircare-advice/1`` contract), compact, in the order of the input.

A bad line stops the batch: the error names ``FILE:LINE`` (the first bad line of the file) and no
output file is left behind, because the output is written to a temporary file beside it and
renamed only when every line has succeeded. Fix the line (or take it out) and run again.

With ``jobs > 1`` the lines are cut into chunks and advised in worker processes; the pool
initializer gives each worker one Advisor (inherited from the parent where processes fork, built
from the rule folders where they are spawned). Where they fork, the parent advises the first
chunk itself before starting them, so they inherit what it warmed. Results are written in input
order. Each line is written by :class:`Encoder` (orjson, or the stdlib where orjson would differ).

Stopping a batch (a bad line, Ctrl-C, or SIGTERM, which the CLI turns into an interrupt)
terminates the workers and removes the temporary file; a worker whose parent is killed outright
(SIGKILL) notices within :data:`PARENT_POLL` seconds and exits, and the temporary file that such
a run leaves is removed by the next run writing the same output (see
:func:`haircare_expert.atomic.remove_stale_temps`).
"""
from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import orjson

from haircare_expert import yamlio
from haircare_expert.atomic import atomic_writer, check_target
from haircare_expert.errors import HaircareError, ProfileError

#: How often (seconds) a worker looks whether the batch that started it is still there.
PARENT_POLL = 0.5

#: Lines handed to a worker at a time: large enough to amortise the inter-process traffic
#: (a few milliseconds a chunk), small enough that the workers finish close together.
CHUNK = 100


@dataclass
class BatchResult:
    """What a batch did: the number of profiles advised (one output line each)."""

    profiles: int


def count_lines(path: str | Path) -> int:
    """The number of lines in ``path`` (for a progress bar), read in binary blocks."""
    count = 0
    last = b"\n"
    with yamlio.open_binary(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every non-blank line of ``path``.

    A line longer than a profile file may be (``yamlio.MAX_BYTES``) is an error, found without
    reading all of it.
    """
    with yamlio.open_binary(path) as handle:
        number = 0
        while raw := handle.readline(yamlio.MAX_BYTES + 1):
            number += 1
            if len(raw) > yamlio.MAX_BYTES:
                raise ProfileError(f"{path}:{number}", f"line is longer than {yamlio.MAX_BYTES // 1024} KiB")
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):   # a UTF-8 byte-order mark
                raw = raw[3:]
            if raw.strip():
                yield number, raw


def parse_line(raw: bytes, where: str):
    """One input line as a parsed profile document; ProfileError naming ``where`` otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(where, f"is not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=yamlio._json_pairs)
    except (ValueError, RecursionError) as exc:
        raise ProfileError(where, f"not a JSON profile: {yamlio.explain_value_error(exc)}") from None
    if _SURROGATE_ESCAPE.search(raw):   # rare: only then walk the document for a lone half
        yamlio.check_values(data, where, ProfileError)
    return data


#: A JSON escape of a UTF-16 surrogate (``\ud83d``): a pair is one character, a lone half is
#: text no file can hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


#: ``json.dumps(data, ensure_ascii=False, separators=(",", ":"))``: the definition of a line.
#: Plain data from to_json(): no cycles to look for.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

#: The exact types orjson writes exactly as ``_dumps`` does (checked for every character of
#: every string, and for ints up to 64 bits; orjson refuses the rest, and a string with a lone
#: surrogate). Not float: orjson writes 1e-05 as 0.00001 and NaN as null.
_AS_JSON_DOES = frozenset({str, int, bool, type(None), list, tuple, dict})

#: Nesting deeper than this (far deeper than a record) is left to the stdlib.
_MAX_DEPTH = 64


def _written_as_json_does(data) -> bool:
    """Whether every value in ``data`` is of a type in :data:`_AS_JSON_DOES`.

    Level by level: ``gc.get_referents`` of lists, tuples and dicts is their items (keys and
    values), at C speed, and stops at strings and numbers (which hold no references).
    """
    level = [data]
    for _ in range(_MAX_DEPTH):
        if not _AS_JSON_DOES.issuperset(map(type, level)):
            return False
        level = gc.get_referents(*level)
        if not level:
            return True
    return False        # a cycle, or deeper than any record: the stdlib decides


def _referents_hold_every_value() -> bool:
    """Whether this Python's ``gc.get_referents`` lists every item of a list, tuple and dict
    (CPython does; its documentation promises only the items that can hold references). Where
    it does not, :class:`Encoder` writes every line with the stdlib."""
    value = 0.5
    return all(any(item is value for item in gc.get_referents(container))
               for container in ([value], (value,), {"key": value}, {1: value}))


class Encoder:
    """``encode(consultation)``: the batch line of a consultation, as UTF-8 bytes, exactly
    ``_dumps(consultation.to_json()).encode("utf-8")``.

    The line is written by orjson from :meth:`~haircare_expert.model.Consultation.json_view`
    (no copy of the record made first) when every value in it is of a type that orjson writes
    as the stdlib does (:func:`_written_as_json_does`); anything else -- a float, an object of
    another type, an int beyond 64 bits, a non-text key, a lone surrogate, a ``to_json`` of
    one's own -- is written by the stdlib from ``to_json()``, as it always was. ``fast`` and
    ``slow`` count the lines written each way.
    """

    def __init__(self):
        self.fast = 0
        self.slow = 0

    def __call__(self, consultation) -> bytes:
        if _FAST:
            try:
                view = consultation.json_view()
                if view is not None and _written_as_json_does(view):
                    line = orjson.dumps(view)
                    self.fast += 1
                    return line
            except Exception:   # whatever the fast path cannot do, to_json() does as it always did
                pass
        self.slow += 1
        return _dumps(consultation.to_json()).encode("utf-8")


_FAST = _referents_hold_every_value()


def advise_line(advisor, raw: bytes, where: str, encode=None) -> bytes:
    """The compact contract JSON for one input line, as UTF-8 (``encode``: an :class:`Encoder`)."""
    consultation = advisor.consult(parse_line(raw, where), where)
    return (encode or Encoder())(consultation)


def _rebuild(cls: type, where: str, what: str) -> HaircareError:
    """An error of class ``cls`` (so the same exit code) with a new place and message."""
    error = cls.__new__(cls)
    HaircareError.__init__(error, where, what)
    return error


def _advise_chunk(advisor, name: str, chunk: Sequence[tuple[int, bytes]], encode=None) -> list[bytes]:
    out = []
    for number, raw in chunk:
        where = f"{name}:{number}"
        try:
            out.append(advise_line(advisor, raw, where, encode))
        except HaircareError as exc:
            if exc.where == where or exc.where.startswith(where + ":"):
                raise
            # An error that names a rule (a runaway cycle) must still say which line.
            raise _rebuild(type(exc), where, str(exc)) from None
    return out


# -- worker processes ---------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(rules_dirs: tuple, advisor=None) -> None:
    """Pool initializer: one Advisor per worker process, the knowledge base compiled once.

    Ctrl-C is left to the parent, which stops the batch (workers would each print a traceback);
    SIGTERM ends a worker at once (a forked worker inherits the parent's handler, which would
    raise in it). A worker whose parent is gone (killed, even with SIGKILL) exits by itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _watch_parent(os.getppid())
    _WORKER.clear()
    try:
        if advisor is None:
            from haircare_expert.consult.advisor import Advisor
            advisor = Advisor(extra_rules=rules_dirs)
        _WORKER["advisor"] = advisor
        _WORKER["encode"] = Encoder()
    except HaircareError as exc:
        _WORKER["error"] = (type(exc), exc.where, exc.what)
    # The compiled knowledge base lives as long as the worker: keep the garbage collector from
    # scanning it again and again (and, in a forked worker, from touching the pages it shares
    # with the parent).
    gc.freeze()


def _watch_parent(parent: int) -> None:
    """Exit this worker as soon as its parent process is gone (it is re-parented then).

    A thread, not a signal: it also notices a parent killed with SIGKILL, which no one can
    catch, and it runs while the worker is busy advising (each check is a system call).
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="haircare-parent-watch", daemon=True).start()


def _work(name: str, chunk: list[tuple[int, bytes]]):
    """Advise one chunk in a worker: (last line number, profiles, output, error). The output
    comes back as the UTF-8 bytes of its lines (cheap to pass between processes, and written as
    they are); an error comes back as data, because our errors do not pickle (their
    constructor takes two arguments)."""
    last = chunk[-1][0]
    if "error" in _WORKER:
        return last, 0, b"", _WORKER["error"]
    try:
        out = _advise_chunk(_WORKER["advisor"], name, chunk, _WORKER["encode"])
    except HaircareError as exc:
        return last, 0, b"", (type(exc), exc.where, exc.what)
    return last, len(out), _lines(out), None


def _lines(out: list[bytes]) -> bytes:
    """The output lines as the output file holds them (one per line)."""
    return b"\n".join(out) + b"\n" if out else b""


def _chunks(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    iterator = iter(lines)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _parallel(name: str, lines, jobs: int, advisor, rules_dirs: tuple,
              chunk: int) -> Iterator[tuple[int, int, bytes]]:
    """(last line number, profiles, output text) per chunk, advised in ``jobs`` processes and
    yielded in input order, with a few chunks in flight per worker."""
    from concurrent.futures import ProcessPoolExecutor  # here: a one-process batch needs none

    parts = _chunks(lines, chunk)
    if "fork" in multiprocessing.get_all_start_methods():
        # A forked worker inherits the compiled Advisor (initargs are not pickled under fork),
        # and what the first chunk warms here: each rule text compiled, each product looked up
        # once for all workers rather than once in each. A batch of one chunk starts none.
        first = next(parts, None)
        if first is None:
            return
        out = _advise_chunk(advisor, name, first, Encoder())
        yield first[-1][0], len(out), _lines(out)
        context, initargs = multiprocessing.get_context("fork"), (rules_dirs, advisor)
    else:
        context, initargs = None, (rules_dirs, None)
    pending: deque = deque()
    pool = None
    try:
        for part in parts:
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                                           initargs=initargs)
            pending.append(pool.submit(_work, name, part))
            if len(pending) >= jobs * 4:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    except BaseException:
        # A bad line, Ctrl-C, SIGTERM or the generator closed early: the chunks still running
        # are wasted work, so the workers are stopped now rather than waited for.
        if pool is not None:
            _stop(pool)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool) -> None:
    """Cancel what has not started and terminate the worker processes."""
    if hasattr(pool, "terminate_workers"):     # Python 3.14+
        with contextlib.suppress(Exception):
            pool.terminate_workers()
        return
    # Before 3.14 there is no public way to reach the processes; _processes (pid -> Process)
    # has been there since 3.2.
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        with contextlib.suppress(Exception):
            process.terminate()


def _result(future) -> tuple[int, int, bytes]:
    last, count, text, error = future.result()
    if error is not None:
        raise _rebuild(*error)
    return last, count, text


def _sequential(name: str, lines, advisor, chunk: int) -> Iterator[tuple[int, int, bytes]]:
    encode = Encoder()
    for part in _chunks(lines, chunk):
        out = _advise_chunk(advisor, name, part, encode)
        yield part[-1][0], len(out), _lines(out)


def run(source: str | Path, output: str | Path | BinaryIO, *, advisor=None,
        rules_dirs: Sequence[str] = (), jobs: int = 1,
        progress: Callable[[int], None] | None = None, chunk: int = CHUNK,
        scheduler=None) -> BatchResult:
    """Advise every profile line of ``source`` into ``output`` (JSON lines), atomically.

    ``output`` is a file name (written through a temporary file, renamed at the end; it must
    be a new name or a writable regular file) or an open binary stream (written as it goes).
    ``advisor`` is built from ``rules_dirs`` when not given (so a bad rule folder fails here,
    before any worker starts). ``progress(n)`` is called with the number of input lines done
    so far (compare with :func:`count_lines`). With ``scheduler`` (a Dask scheduler address)
    the profiles are advised on that cluster (:mod:`~haircare_expert.consult.distributed`).
    """
    if not hasattr(output, "write"):
        check_target(output)     # before the rules are compiled: refuse a link or a device now
    if advisor is None:
        from haircare_expert.consult.advisor import Advisor
        advisor = Advisor(extra_rules=rules_dirs)
    name = str(source)
    lines = read_lines(source)
    if scheduler:
        from haircare_expert.consult.distributed import batch_parts
        parts = batch_parts(name, lines, scheduler, advisor, tuple(rules_dirs))
    elif jobs > 1:
        parts = _parallel(name, lines, jobs, advisor, tuple(rules_dirs), chunk)
    else:
        parts = _sequential(name, lines, advisor, chunk)
    profiles = 0
    writer = contextlib.nullcontext(output) if hasattr(output, "write") else atomic_writer(output, binary=True)
    try:
        with writer as out:
            for last_line, count, text in parts:
                out.write(text)
                profiles += count
                if progress:
                    progress(last_line)
    finally:
        if hasattr(parts, "close"):
            parts.close()      # stops the worker processes now if the writing failed
    return BatchResult(profiles)


