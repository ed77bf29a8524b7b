"""Safe YAML (and JSON) reading that keeps line numbers and refuses duplicate keys.

Only ``yaml.SafeLoader`` is used: nothing in a profile or rule file can build Python objects.
Mappings come back as :class:`LineDict`, which remembers the line of each key so that errors can
point at ``file:line``.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from haircare_expert.errors import HaircareError, Location, NotFoundError

#: Refuse files larger than this: a profile or rule file is a few kilobytes.
MAX_BYTES = 2 * 1024 * 1024
#: Refuse documents nested deeper than this (a YAML bomb or a mistake, never real data).
MAX_DEPTH = 20
#: Refuse documents with more nodes than this once aliases are expanded (billion laughs).
MAX_NODES = 200_000
#: Refuse whole numbers longer than this many bits (about 4,200 digits): no field needs them,
#: and Python cannot even print one past 4,300 digits.
MAX_INT_BITS = 14_000


class LineDict(dict):
    """A dict that knows the 1-based line of each of its keys (``lines``) and its own ``line``."""

    line: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


# The C parser (libyaml) when PyYAML has it: the pure-Python one was most of a cold start. Both
# build nodes with marks, and the construction below (safe types only) is the same Python code.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):
    """SafeLoader that records lines, rejects duplicate keys and bounds expansion."""

    def __init__(self, stream, error_cls):
        super().__init__(stream)
        self._error_cls = error_cls
        self._nodes = 0

    def construct_document(self, node):
        self._check_shape(node, 0, set())
        return super().construct_document(node)

    def _check_shape(self, node, depth, active):
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise yaml.YAMLError(f"document too large once aliases are expanded (over {MAX_NODES} nodes)")
        if depth > MAX_DEPTH:
            raise yaml.constructor.ConstructorError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                self._check_shape(child, depth + 1, active)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self._check_shape(key, depth + 1, active)
                self._check_shape(value, depth + 1, active)

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):  # pragma: no cover - SafeLoader guards this
            return super().construct_mapping(node, deep=deep)
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark) from None
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=deep)
            result.lines[key] = key_node.start_mark.line + 1
        return result


_Loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: loader.construct_mapping(node, deep=True))


def _json_pairs(pairs):
    result = LineDict()
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def open_binary(path: str | Path):
    """Open a regular file for reading bytes; a missing, unreadable or non-regular file (a
    directory, a FIFO, a device) is a NotFoundError.

    The file is opened without blocking, so a FIFO with no writer is refused at once instead
    of hanging the command.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotFoundError(str(path), "no such file") from None
    except IsADirectoryError:
        raise NotFoundError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise NotFoundError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    for test, kind in _NOT_REGULAR:
        if test(mode):
            os.close(fd)
            raise NotFoundError(str(path), f"is {kind}, not a regular file")
    return os.fdopen(fd, "rb")


def read_text(path: str | Path, error_cls: type[HaircareError]) -> str:
    """Read a UTF-8 text file, turning every I/O and decoding problem into ``error_cls``."""
    path = Path(path)
    with open_binary(path) as handle:
        try:
            data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise NotFoundError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise error_cls(str(path), f"file is larger than {MAX_BYTES // 1024} KiB")
    if b"\x00" in data:
        raise error_cls(str(path), "is a binary file, not YAML or JSON text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error_cls(str(path), f"is not UTF-8 text (bad byte at offset {exc.start})") from None


def loads(text: str, where: str, error_cls: type[HaircareError]) -> Any:
    """Parse YAML (JSON is YAML too, but ``.json`` files go through the json module).

    Every problem is one ``error_cls`` with a one-line message, at ``where:line`` when the
    line is known; a parsed document holds only text that can be written back (no lone
    UTF-16 surrogate) and numbers that can be printed (see :func:`check_values`).
    """
    if where.endswith(".json"):
        try:
            data = json.loads(text, object_pairs_hook=_json_pairs)
        except (ValueError, RecursionError) as exc:
            raise error_cls(_at(where, text, exc), f"not valid JSON: {explain_value_error(exc)}",
                            code="yaml") from None
        check_values(data, where, error_cls, text)
        return data
    loader = _Loader(text, error_cls)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise error_cls(Location(where, mark.line + 1) if mark else where, f"not valid YAML: {_flat(problem)}",
                        code="yaml") from None
    except yaml.reader.ReaderError as exc:   # a character YAML does not allow (a raw control)
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else 0
        code = exc.character if isinstance(exc.character, int) else None
        character = f" U+{code:04X}" if code is not None else ""
        raise error_cls(f"{where}:{line}" if line else where,
                        f"not valid YAML: character{character} not allowed ({_flat(exc.reason)})",
                        code="yaml") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise error_cls(where, f"not valid YAML: {_flat(str(exc))}", code="yaml") from None
    except (ValueError, OverflowError) as exc:  # e.g. an impossible date such as 2026-13-45
        raise error_cls(_at(where, text, exc), f"not valid YAML: {explain_value_error(exc)}",
                        code="yaml") from None
    finally:
        loader.dispose()
    check_values(data, where, error_cls, text)
    return data


def _flat(message: str) -> str:
    """A parser's message on one line (PyYAML's span several, with the position)."""
    return " ".join(str(message).split())


TOO_LONG = "a number is too long (over 4,000 digits)"
_LONG_NUMBER = re.compile(r"\d{4000,}")


def explain_value_error(exc: BaseException) -> str:
    """A parser's ValueError in a user's words (Python's integer limit names an API)."""
    message = str(exc)
    if "integer string conversion" in message:
        return TOO_LONG
    return _flat(message)


def _at(where: str, text: str, exc: BaseException) -> str:
    """``where:line`` for an over-long number, ``where`` otherwise."""
    if "integer string conversion" in str(exc):
        found = _LONG_NUMBER.search(text)
        if found:
            return f"{where}:{text.count(chr(10), 0, found.start()) + 1}"
    return where


_SURROGATE = re.compile("[\ud800-\udfff]")
#: A JSON or YAML escape of a lone surrogate half (one of a pair is followed by the other).
_LONE_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                          r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def check_values(data: Any, where: str, error_cls: type[HaircareError], text: str = "") -> None:
    """Refuse text holding a lone UTF-16 surrogate (JSON's ``"\\ud800"``: no file, terminal or
    report can hold it) and whole numbers over :data:`MAX_INT_BITS` bits, naming the line."""
    stack: list[tuple[Any, int]] = [(data, getattr(data, "line", 0))]
    while stack:
        node, line = stack.pop()
        problem = ""
        if isinstance(node, str):
            if _SURROGATE.search(node):
                problem = "text holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair)"
                if not line and text and (found := _LONE_ESCAPE.search(text)):
                    line = text.count("\n", 0, found.start()) + 1
        elif isinstance(node, int) and not isinstance(node, bool):
            if node.bit_length() > MAX_INT_BITS:
                problem = TOO_LONG
        elif isinstance(node, dict):
            for key, value in node.items():
                key_line = node.line_of(key) if isinstance(node, LineDict) else line
                stack.append((value, key_line))
                stack.append((key, key_line))
        elif isinstance(node, (list, tuple)):
            stack.extend((item, line) for item in reversed(node))
        if problem:
            raise error_cls(f"{where}:{line}" if line else where, problem)


def load_file(path: str | Path, error_cls: type[HaircareError]) -> Any:
    """Read and parse one YAML or JSON file."""
    return loads(read_text(path, error_cls), str(path), error_cls)


def package_files(folder: str):
    """The shipped data folder ``rules``, ``facts`` or ``reports`` (an importlib.resources root).

    They are sub-packages only once installed (setup.cfg maps them); importing the package from
    a bare source checkout finds no data, which deserves a clear error, not a traceback.
    """
    import importlib
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader
    try:
        package = importlib.import_module(f"haircare_expert.{folder}")
        if isinstance(package.__spec__.loader, (SourceFileLoader, SourcelessFileLoader)):
            # a folder on disk: what importlib.resources.files() returns for it (the folder of
            # the package's __init__), without importing importlib.resources (~4 ms cold)
            return Path(package.__spec__.origin).parent
        from importlib import resources  # a zip, a namespace package, another loader
        return resources.files(package)
    except ModuleNotFoundError:
        raise NotFoundError(f"haircare_expert.{folder}", "the shipped data is missing: haircare_expert "
                            "was imported from a source checkout that is not installed; install it "
                            "('pip install .') and run from another folder") from None
