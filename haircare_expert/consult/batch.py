"""Many profiles at once: JSON lines in, one contract JSON per line out, in input order.

Each input line is one profile as a JSON object (blank lines are skipped, but still counted so
errors name the right line). Each output line is the consultation JSON of ``haircare advise
--format json`` (the ``haircare-advice/1`` contract), compact, in the order of the input.

A bad line stops the batch: the error names ``FILE:LINE`` (the first bad line of the file) and no
output file is left behind, because the output is written to a temporary file beside it and
renamed only when every line has succeeded. Fix the line (or take it out) and run again.

With ``jobs > 1`` the lines are cut into chunks and advised in worker processes; the pool
initializer gives each worker one Advisor (inherited from the parent where processes fork, built
from the rule folders where they are spawned). Results are written in input order.

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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from haircare_expert import yamlio
from haircare_expert.atomic import atomic_writer, check_target
from haircare_expert.errors import HaircareError, ProfileError
from haircare_expert.model import Advice, Consultation, json_value

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


_CONSULTATION_JSON = Consultation.to_json
_ADVICE_JSON = Advice.to_json


def _texts_only(steps, sources) -> bool:
    """Whether the steps are strings and the sources mappings of strings to strings."""
    return (type(steps) is list and all(type(s) is str for s in steps) and type(sources) is list
            and all(type(d) is dict and all(type(v) is str for v in d.values()) for d in sources))


def _copied(value):
    """A deep copy of lists and dicts (the rest is immutable data)."""
    if type(value) is list:
        return [_copied(v) for v in value]
    if type(value) is dict:
        return {k: _copied(v) for k, v in value.items()}
    return value


#: ``json.dumps(data, ensure_ascii=False, separators=(",", ":"))``; plain data from to_json():
#: no cycles to look for.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class Encoder:
    """The compact JSON text of a consultation: exactly ``_dumps(consultation.to_json())``, with
    the blocks that repeat from client to client encoded once.

    A JSON object's text is its members' texts joined, so each top-level member is encoded on
    its own: the ``knowledge_base`` block (the same for every client of a knowledge base) is
    reused while it is equal to the last one, and each advice object reuses the text of
    everything before its two last members (``matched_facts`` and ``fired``, which vary) while
    those members are equal to the ones encoded. An advice whose last members are not those
    two is encoded whole, so a change of ``to_json`` cannot make the text differ.
    """

    _VARYING = ["matched_facts", "fired"]

    def __init__(self, limit: int = 4096):
        self._limit = limit
        self._kb: tuple = ({}, "{}")
        self._advice: dict[tuple, tuple] = {}
        self._keys: dict[str, str] = {}

    def __call__(self, consultation) -> str:
        # The advice objects as they are (no dict per advice) when nothing overrides to_json.
        direct = type(consultation) is Consultation and Consultation.to_json is _CONSULTATION_JSON
        data = consultation.json_members(advice_objects=True) if direct else consultation.to_json()
        parts = []
        for name, value in data.items():
            key = self._keys.get(name)
            if key is None:
                key = self._keys[name] = _dumps(name) + ":"
            if name == "knowledge_base":
                text = self._knowledge_base(value)
            elif name == "advice" and direct:
                text = "[" + ",".join([self._advice_object(a) for a in value]) + "]"
            elif name == "advice" and type(value) is list:
                text = "[" + ",".join([self._one_advice(a) for a in value]) + "]"
            else:
                text = _dumps(value)
            parts.append(key + text)
        return "{" + ",".join(parts) + "}"

    def _knowledge_base(self, value) -> str:
        last, text = self._kb
        if value != last:
            text = _dumps(value)
            self._kb = (value, text)
        return text

    def _advice_object(self, advice) -> str:
        """``self._one_advice(json_value(advice))``, from the Advice itself: its fixed members'
        text is looked up by its strings and compared by its lists, not rebuilt as a dict."""
        if type(advice) is not Advice or Advice.to_json is not _ADVICE_JSON:
            return self._one_advice(json_value(advice))
        key = ("advice", advice.rule, advice.kind, advice.title, advice.text, advice.because)
        cached = self._advice.get(key)
        if cached is None or cached[0] != advice.steps or cached[1] != advice.sources:
            data = advice.to_json()
            # Only texts are remembered: 1, 1.0 and True are equal in a comparison but not in JSON.
            if list(data)[-2:] != self._VARYING or not _texts_only(advice.steps, advice.sources):
                return _dumps(data)
            if len(self._advice) >= self._limit:
                self._advice.clear()
            fixed = list(data.items())[:-2]
            prefix = _dumps(dict(fixed))[:-1] + ("," if fixed else "")
            # copies: a later change to this advice's lists must not change the cached key
            cached = self._advice[key] = (_copied(advice.steps), _copied(advice.sources), prefix)
        facts, fired = advice.matched_facts, advice.fired
        return (cached[2] + '"matched_facts":' + _dumps(json_value(facts)) + ',"fired":'
                + (int.__repr__(fired) if type(fired) is int else _dumps(json_value(fired))) + "}")

    def _one_advice(self, advice) -> str:
        if type(advice) is not dict or list(advice)[-2:] != self._VARYING:
            return _dumps(advice)
        items = list(advice.items())
        fixed = items[:-2]
        # The strings come from the rule (their hashes are cached); the lists are compared.
        key = tuple([v if type(v) is str else None for _, v in fixed])
        cached = self._advice.get(key)
        if cached is None or cached[0] != fixed:
            if len(self._advice) >= self._limit:
                self._advice.clear()
            prefix = _dumps(dict(fixed))[:-1] + ("," if fixed else "")
            cached = self._advice[key] = (fixed, prefix)
        facts, fired = advice["matched_facts"], advice["fired"]
        return (cached[1] + '"matched_facts":' + _dumps(facts) + ',"fired":'
                + (int.__repr__(fired) if type(fired) is int else _dumps(fired)) + "}")


def advise_line(advisor, raw: bytes, where: str, encode=None) -> str:
    """The compact contract JSON for one input line (``encode``: an :class:`Encoder`)."""
    consultation = advisor.consult(parse_line(raw, where), where)
    if encode is None:
        return _dumps(consultation.to_json())
    return encode(consultation)


def _rebuild(cls: type, where: str, what: str) -> HaircareError:
    """An error of class ``cls`` (so the same exit code) with a new place and message."""
    error = cls.__new__(cls)
    HaircareError.__init__(error, where, what)
    return error


def _advise_chunk(advisor, name: str, chunk: Sequence[tuple[int, bytes]], encode=None) -> list[str]:
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


def _lines(out: list[str]) -> bytes:
    """The output lines as the output file holds them (UTF-8, one per line)."""
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def _chunks(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    iterator = iter(lines)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _parallel(name: str, lines, jobs: int, advisor, rules_dirs: tuple,
              chunk: int) -> Iterator[tuple[int, int, bytes]]:
    """(last line number, profiles, output text) per chunk, advised in ``jobs`` processes and
    yielded in input order, with a few chunks in flight per worker."""
    if "fork" in multiprocessing.get_all_start_methods():
        # A forked worker inherits the compiled Advisor (initargs are not pickled under fork).
        context, initargs = multiprocessing.get_context("fork"), (rules_dirs, advisor)
    else:
        context, initargs = None, (rules_dirs, None)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                               initargs=initargs)
    pending: deque = deque()
    try:
        for part in _chunks(lines, chunk):
            pending.append(pool.submit(_work, name, part))
            if len(pending) >= jobs * 4:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    except BaseException:
        # A bad line, Ctrl-C, SIGTERM or the generator closed early: the chunks still running
        # are wasted work, so the workers are stopped now rather than waited for.
        _stop(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor) -> None:
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


