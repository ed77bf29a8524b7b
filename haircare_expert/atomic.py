"""Atomic file writing: a report, a session or a batch output is never seen half-written.

Data goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target. On any failure the temporary file is removed and the target is left as it was.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from haircare_expert.errors import ReportError


def file_mode(path: Path) -> int:
    """The mode a new file gets from ``open()`` (0666 less the umask), or the existing file's."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def atomic_writer(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """Yield a handle to write ``path`` through a temporary file; rename only on success.

    The file gets the permissions a plain ``open()`` would give it (not the temporary file's
    private 0600), or keeps those of the file it replaces.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    mode = file_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ReportError(str(path), f"cannot write here ({exc.strerror or exc})") from None
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as handle:
            os.fchmod(handle.fileno(), mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the rename must never expose data still only in the cache
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
