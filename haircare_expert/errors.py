"""The one exception hierarchy of haircare-expert, and the exit codes the CLI maps it to.

The library raises only these (or lets programming errors through); the CLI turns each into one
line ``Error: <where>: <what>`` on stderr and the exit code named here.
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``haircare`` command (documented in README.md)."""

    OK = 0
    CHANGED = 1          #: ``replay``/``rules test``: the outcome differs / a case failed
    USAGE = 2            #: bad command-line usage (click's own code)
    PROFILE = 3          #: a client profile or session file is invalid
    RULES = 4            #: a rule file, the vocabulary or the source catalogue is invalid
    NOT_FOUND = 5        #: a named file or rule does not exist or cannot be read
    ENGINE = 6           #: inference failed (runaway rule cycle, engine fault)
    REPORT = 7           #: a report could not be rendered or written
    STORE = 8            #: the records database is locked, read-only, full, newer or unreachable
    CONFLICT = 9         #: a record was changed elsewhere meanwhile (reload and try again)
    INTERNAL = 70        #: a bug in haircare-expert itself (run with --traceback and report it)
    INTERRUPTED = 130    #: Ctrl-C
    TERMINATED = 143     #: SIGTERM (``kill``, ``timeout``, a service manager): cleaned up, stopped


class HaircareError(Exception):
    """Base of every error the library raises on purpose.

    ``where`` names the place (a file, ``file:line``, a rule id); ``what`` says what is wrong.
    """

    exit_code = ExitCode.INTERNAL   # every subclass names its own

    def __init__(self, where: str, what: str):
        where = where if where else "(empty)"
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what

    def __reduce__(self):
        # rebuild from (where, what), so the error crosses process boundaries (batch workers)
        return (type(self), (self.where, self.what))


class ProfileError(HaircareError):
    """Raised when a client profile or interview session is malformed or breaks the vocabulary."""

    exit_code = ExitCode.PROFILE


class RuleError(HaircareError):
    """Raised when a rule file, the vocabulary or the source catalogue is invalid."""

    exit_code = ExitCode.RULES


class RuleErrors(RuleError):
    """Raised when loading a rulebook finds several problems; ``problems`` lists them all."""

    def __init__(self, problems: list[RuleError]):
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first.where, first.what + more)
        self.problems = problems

    def __reduce__(self):
        return (type(self), (self.problems,))


class NotFoundError(HaircareError):
    """Raised when a named file, rule or product does not exist or cannot be read."""

    exit_code = ExitCode.NOT_FOUND


class EngineError(HaircareError):
    """Raised when inference fails: a runaway rule cycle or a fault inside the engine."""

    exit_code = ExitCode.ENGINE


class ReportError(HaircareError):
    """Raised when a report cannot be rendered (template error, missing PDF libraries) or written."""

    exit_code = ExitCode.REPORT


class StoreError(HaircareError):
    """Raised when the records database cannot be opened, read or written (locked, read-only,
    full, unreachable, or written by a newer haircare-expert)."""

    exit_code = ExitCode.STORE


class StoreConflictError(StoreError):
    """Raised when a record was changed by another writer since it was read (a stale version)."""

    exit_code = ExitCode.CONFLICT


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised (by the CLI's signal handler) where Ctrl-C would be, so every
    ``finally`` and temporary-file clean-up runs as for Ctrl-C; the CLI exits 143."""
