"""Atomic file writing: a report, a session or a batch output is never seen half-written.

Data goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target. On any failure the temporary file is removed and the target is left as it was.

Only a regular file (or a new path) is ever replaced: a symbolic link, a device, a FIFO, a
folder or a read-only file named as the target is an error that leaves it untouched. The
temporary file carries the writer's process id, so a run killed before it could clean up
(SIGKILL, a power cut) leaves a file that the next run writing the same target removes.
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from haircare_expert.errors import ReportError

#: Output names that mean standard output rather than a file (``-o -``, ``-o /dev/stdout``).
STDOUT_NAMES = ("-", "/dev/stdout")


def is_stdout(path: str | Path | None) -> bool:
    """Whether an output name means standard output (``-`` or ``/dev/stdout``)."""
    return path is not None and str(path) in STDOUT_NAMES


def file_mode(path: Path) -> int:
    """The mode a new file gets from ``open()`` (0666 less the umask), or the existing file's."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def check_target(path: str | Path) -> None:
    """Raise :class:`ReportError` unless ``path`` is a new name or a writable regular file.

    Replacing anything else would destroy it (a link, a device node) or write where the user
    did not mean to; a read-only file is one the user asked us not to change.
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ReportError(str(path), f"cannot write here ({exc.strerror or exc})") from None
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise ReportError(str(path), f"is {kind}, not a regular file; not replaced (name a "
                                         "new file or a regular one)")
    if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise ReportError(str(path), "is read-only; not replaced")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


#: The temporary files of a target: ``.NAME.<pid>.<random>.tmp``.
_TEMP_RE = re.compile(r"\.(\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":   # on Windows os.kill(pid, 0) would end it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:       # it exists but belongs to someone else
        return True
    return True


def remove_stale_temps(path: str | Path) -> list[str]:
    """Remove the temporary files a killed writer of ``path`` left beside it; return their names.

    Only files named like ours (``.NAME.<pid>.<random>.tmp``) whose process is gone are removed,
    so a concurrent run writing the same target keeps its own.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    prefix = _temp_prefix(path)
    removed = []
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return removed
    for name in names:
        match = _TEMP_RE.fullmatch(name[len(prefix) - 1:])
        if not match or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(directory / name).st_mode):
                os.unlink(directory / name)
                removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_writer(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """Yield a handle to write ``path`` through a temporary file; rename only on success.

    The file gets the permissions a plain ``open()`` would give it (not the temporary file's
    private 0600), or keeps those of the file it replaces. ``path`` must be a new name or a
    writable regular file (see :func:`check_target`).
    """
    path = Path(path)
    check_target(path)
    directory = path.parent if str(path.parent) else Path(".")
    remove_stale_temps(path)
    mode = file_mode(path)
    import tempfile  # here: printing to stdout (most commands) does not pay for it at start
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp",
                                   dir=directory)
    except OSError as exc:
        raise ReportError(str(path), f"cannot write here ({exc.strerror or exc})") from None
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as handle:
            os.fchmod(handle.fileno(), mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the rename must never expose data still only in the cache
        check_target(path)             # it may have become a link or a FIFO while we wrote
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ReportError(str(path), f"cannot write the file ({exc.strerror or exc})") from None
        raise


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically."""
    with atomic_writer(path, binary=isinstance(data, bytes)) as handle:
        handle.write(data)


# -- one file named twice ---------------------------------------------------------------------
def _same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two names are one file: the same resolved path, or (both existing) the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def same_file_clash(inputs: Iterable[tuple[str, str | Path | None]],
                    outputs: Iterable[tuple[str, str | Path | None]]) -> str | None:
    """Why these files cannot be used together, or None.

    ``inputs`` and ``outputs`` are (label, path) pairs, e.g. ``("PROFILE", "ana.yaml")`` and
    ``("-o", "ana.yaml")``; a missing path (None, or stdout) is left out. An output naming an
    input would destroy the input; two outputs naming one file would lose one of them. The
    CLI calls this before doing anything (``haircare_expert.cli.base.refuse_same_files``).
    """
    ins = [(label, p) for label, p in inputs if p is not None and not is_stdout(p)]
    outs = [(label, p) for label, p in outputs if p is not None and not is_stdout(p)]
    for i, (label, path) in enumerate(outs):
        for in_label, in_path in ins:
            if _same_file(path, in_path):
                return f"{label} {path} is the {in_label} file; it would be overwritten (name another file)"
        for other_label, other in outs[:i]:
            if _same_file(path, other):
                return (f"{other_label} and {label} name the same file ({path}); one would "
                        "overwrite the other")
    return None
