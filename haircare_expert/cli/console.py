"""The terminal the interview talks through: lines out (wrapped to the window), lines in.

The interview command reaches the terminal only through a :class:`Console`, so a test (or
another front end) swaps in its own object with the same two methods: ``say(line)`` and
``ask() -> str | None`` (``None``: the input ended).
"""
from __future__ import annotations

import contextlib
import re
import shutil
import sys
import textwrap

import click

#: Where a wrapped line's continuation lines start: under the text after a bullet or number.
_LEAD = re.compile(r"\s*(?:[-+–] |\d+\. |\()?")


class Console:
    """Standard input and output: lines wrapped to the window, answers read with line editing;
    when answers are piped, each one is echoed so the output reads as a transcript."""

    def __init__(self) -> None:
        with contextlib.suppress(AttributeError, ValueError):
            # a byte that is not UTF-8 becomes U+FFFD, which the interview refuses ("Sorry, ...")
            sys.stdin.reconfigure(errors="replace")
        self.interactive = sys.stdin.isatty()
        if self.interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (line editing for input())
        self.width = min(shutil.get_terminal_size((100, 24)).columns, 100) - 1 if sys.stdout.isatty() else 0

    def say(self, line: str = "") -> None:
        """One line, wrapped to the terminal (continuation lines indented under the text)."""
        if self.width and len(line) > self.width:
            line = textwrap.fill(line, self.width, subsequent_indent=" " * _LEAD.match(line).end(),
                                 break_long_words=False, break_on_hyphens=False)
        click.echo(line)

    def ask(self) -> str | None:
        """The next line typed, or ``None`` at the end of the input."""
        try:
            typed = input("> ")
        except EOFError:
            typed = None
        if typed is None or not self.interactive:
            click.echo(typed or "")       # a readable transcript when answers are piped
        return typed
