"""The ``haircare`` command: a thin shell over the library.

Each command parses its options, calls the library and writes the result. Every
:class:`~haircare_expert.errors.HaircareError` becomes one line ``Error: <where>: <what>`` on
stderr and the exit code of its class (see :class:`~haircare_expert.errors.ExitCode`).
One module per group of commands; importing one registers its commands on :data:`main`, and
:data:`COMMANDS` says which module that is, so a command imports only its own module (a cold
``haircare advise`` does not pay for the interview, the records store or the web app).
"""
import atexit
import os
import sys
import threading

from haircare_expert.cli.base import main

#: Every command and the module that registers it (tests/test_cli.py checks the list is whole).
COMMANDS = {
    "advise": "haircare_expert.cli.advise",
    "batch": "haircare_expert.cli.advise",
    "compare": "haircare_expert.cli.advise",
    "explain": "haircare_expert.cli.audit",
    "trace": "haircare_expert.cli.audit",
    "replay": "haircare_expert.cli.audit",
    "interview": "haircare_expert.cli.interview",
    "records": "haircare_expert.cli.records",
    "rules": "haircare_expert.cli.rules",
    "serve": "haircare_expert.cli.serve",
}
main.lazy_subcommands.update(COMMANDS)

__all__ = ["COMMANDS", "main", "run"]


def run() -> None:
    """The console script (``haircare``, ``python -m haircare_expert``): :data:`main`, then the
    process ends without tearing the interpreter down.

    Freeing every module and the compiled rules one object at a time takes a cold command tens
    of milliseconds and changes nothing: the output is flushed, the exit functions registered
    with :mod:`atexit` run (temporary folders, worker pools, logging), and the process exits
    with click's code. Anything unusual (output that cannot be flushed, a thread still
    running, a profiler waiting for the program to return, an exit that is not a number) takes
    Python's ordinary way out instead, so the code and the messages stay what they were. Only this entry point does it, never the
    library: ``main`` itself exits the ordinary way.
    """
    from haircare_expert.cli import base
    base.FREEZE_AFTER_BUILD = True      # this process is the application (see base._collector_paused)
    try:
        main(prog_name="haircare")
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    if type(code) is not int or not _quick_exit_is_safe():
        sys.exit(code)
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:           # not CPython: leave it to the interpreter
        sys.exit(code)
    run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:
        # e.g. the reader of a pipe went away: Python reports that on its way out as it always has
        sys.exit(code)
    os._exit(code)


def _quick_exit_is_safe() -> bool:
    """No other thread that Python would wait for (a non-daemon thread still running), and no
    profiler or tracer (``python -m cProfile``, ``-m trace``) that writes its results after
    the program returns."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return False
    current = threading.current_thread()
    return all(t is current or t.daemon or not t.is_alive() for t in threading.enumerate())
