"""The ``haircare`` command: a thin shell over the library.

Each command parses its options, calls the library and writes the result. Every
:class:`~haircare_expert.errors.HaircareError` becomes one line ``Error: <where>: <what>`` on
stderr and the exit code of its class (see :class:`~haircare_expert.errors.ExitCode`).
One module per group of commands; importing them registers the commands on :data:`main`.
"""
from haircare_expert.cli import advise, audit, interview, records, rules, serve  # noqa: F401  (register commands)
from haircare_expert.cli.base import main

__all__ = ["main"]
