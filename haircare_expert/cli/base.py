"""The ``haircare`` group: error mapping, shared options, the compiled rules cached per process.

Each command parses its options, calls the library and writes the result. Every
:class:`~haircare_expert.errors.HaircareError` becomes one line ``Error: <where>: <what>`` on
stderr and the exit code of its class (see :class:`~haircare_expert.errors.ExitCode`).
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import os
import signal
import sys
import threading

import click

from haircare_expert.errors import ExitCode, HaircareError, Terminated

RULES_HELP = ("Add a folder of your own rules (repeatable; also $HAIRCARE_RULES, separated by "
              "':'). A rule with the id of a shipped rule replaces it.")


def one_line(text: str) -> str:
    """``text`` with every control, format or separator character escaped (a newline, ESC, a
    bidi override, a lone surrogate): an error is always one line, and says nothing to the
    terminal but what it prints."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace")
                   .decode("ascii") for ch in text)


class Failure(click.ClickException):
    """A failure click reports and exits with: one ``Error:`` line and a documented code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(one_line(message))
        self.exit_code = int(exit_code)

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.message}", err=True)


class OneLineUsageError(click.UsageError):
    """click's usage error, as one line with a pointer to the help (not click's usage block)."""

    def show(self, file=None) -> None:
        path = self.ctx.command_path if self.ctx else "haircare"
        click.echo(f"Error: {path}: {one_line(self.message)} (see '{path} --help')", err=True)


class HaircareGroup(click.Group):
    """click runs the commands (standalone mode); this group maps the library's errors and
    interrupts to :class:`Failure` (one ``Error:`` line, the exit code of the error's class)."""

    group_class = type       # `rules` and any other sub-group get the same mapping

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        #: command name -> the module whose import registers it (click's "lazily loading
        #: subcommands" pattern): `haircare advise` imports the advise module only, not the
        #: interview, records, web or store stack behind the other commands.
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands and cmd_name in self.lazy_subcommands:
            importlib.import_module(self.lazy_subcommands[cmd_name])
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            # click suggests from the commands registered so far: offer the lazy ones too
            raise click.exceptions.NoSuchCommand(exc.command_name, possibilities=self.list_commands(ctx),
                                                 ctx=ctx) from None

    def main(self, *args, **kwargs):
        with _sigterm_as_interrupt():
            return super().main(*args, **kwargs)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            # `haircare` or `haircare rules` alone: the help, as asked for, not an error
            click.echo(exc.ctx.get_help())
            raise click.exceptions.Exit(0) from None
        except click.UsageError as exc:
            raise _one_line_usage(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, OneLineUsageError, Failure):
            raise
        except click.exceptions.Abort:      # click's own Ctrl-C (in a prompt): as ours
            raise Failure("interrupted", ExitCode.INTERRUPTED) from None
        except click.UsageError as exc:
            raise _one_line_usage(exc) from None
        except click.ClickException:
            raise
        except BrokenPipeError:
            # the reader went away (`haircare rules list | head`): that is not a failure
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except HaircareError as exc:
            _traceback_if_asked(ctx)
            raise Failure(str(exc), exc.exit_code) from None
        except Terminated:
            raise Failure("terminated", ExitCode.TERMINATED) from None
        except (KeyboardInterrupt, EOFError):     # EOFError: input ended at a prompt
            raise Failure("interrupted", ExitCode.INTERRUPTED) from None
        except Exception as exc:  # a bug: still one line, unless --traceback asks for more
            _traceback_if_asked(ctx)
            raise Failure(f"internal error: {type(exc).__name__}: {exc} (run with --traceback "
                          "to see where)", ExitCode.INTERNAL) from None


def _one_line_usage(exc: click.UsageError) -> OneLineUsageError:
    error = OneLineUsageError(exc.format_message(), exc.ctx)
    error.exit_code = exc.exit_code
    return error


def _traceback_if_asked(ctx) -> None:
    root = ctx.find_root()
    if root.params.get("traceback") or os.environ.get("HAIRCARE_TRACEBACK"):
        import traceback  # only here: a cold start does not pay for it
        traceback.print_exc()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) for the life of the command, so
    it is handled like Ctrl-C: temporary files removed, worker processes stopped, exit 143."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _RuleFolder(click.Path):
    """A rule folder; in $HAIRCARE_RULES empty entries are ignored, as in PATH."""

    def split_envvar_value(self, rv: str):
        return [part for part in rv.split(os.pathsep) if part]


def rules_option(func):
    """The ``--rules DIR`` option every command that runs rules accepts."""
    return click.option("--rules", "rules_dirs", multiple=True, envvar="HAIRCARE_RULES",
                        type=_RuleFolder(exists=True, file_okay=False), help=RULES_HELP)(func)


#: Set by the console script (``cli.run``), where this process is the application: the rules it
#: compiles live until it exits, so they are frozen out of the collector's reach once built.
FREEZE_AFTER_BUILD = False


@contextlib.contextmanager
def _collector_paused():
    """The cyclic garbage collector off while the rules are read and compiled: that makes tens of
    thousands of objects that all live on, and no garbage; the collector would walk them ~65
    times for nothing. In the console script they are then frozen (``gc.freeze()``, as the
    long-lived commands do with ``freeze_compiled``), or resuming the collector would walk them
    all again during the consultation (~20 ms of a cold advise). Memory is freed by reference
    counting as usual."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if FREEZE_AFTER_BUILD:
            gc.freeze()
        gc.enable()


def rulebook(rules_dirs=()):
    """The rules loaded once per process, for commands that read rules but run none."""
    with _collector_paused():
        from haircare_expert.consult.advisor import shared_rulebook
        return shared_rulebook(rules_dirs)


def _advisor(rules_dirs: tuple):
    with _collector_paused():
        from haircare_expert.consult.advisor import shared_advisor
        return shared_advisor(rules_dirs)


def advisor(rules_dirs=()):
    """The knowledge base compiled once per process for this set of rule folders."""
    return _advisor(tuple(rules_dirs))


def emit(data, output, binary: bool = False) -> None:
    """Write to ``output`` atomically, or to stdout when no file is named (or ``-``,
    ``/dev/stdout``)."""
    from haircare_expert.atomic import is_stdout, write_atomic
    if output and not is_stdout(output):
        write_atomic(output, data)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
    else:
        click.echo(data, nl=False)


def refuse_same_files(inputs=(), outputs=()) -> None:
    """A usage error, before anything runs, if an output option names an input file or two
    output options name one file (resolved paths). ``inputs``/``outputs``: (label, path)
    pairs, e.g. ``[("PROFILE", profile)]`` and ``[("-o", output), ("--save", save)]``."""
    from haircare_expert.atomic import same_file_clash
    problem = same_file_clash(inputs, outputs)
    if problem:
        raise click.UsageError(problem, click.get_current_context(silent=True))


@click.group(cls=HaircareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="haircare-expert", prog_name="haircare",
                      message="%(prog)s, version %(version)s")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
def main(traceback):
    """Hair and scalp care advice from a rule-based expert system.

    Interview a client, print an advice report, and audit why each piece of advice was given.
    Set HAIRCARE_TRACEBACK=1 (or pass --traceback first) to see the full traceback of an error.
    Exit codes: 0 ok, 1 changed/failed check, 2 usage, 3 bad profile, 4 bad rules,
    5 not found or not a regular file, 6 inference failed, 7 report failed, 8 records store failed,
    9 record changed elsewhere, 70 internal error,
    130 interrupted, 143 terminated (SIGTERM).
    """


def format_option(*names: str, default: str | None = "text", help: str = "Output format."):
    """The ``--format`` option of every command: ``txt`` and ``text`` name the same format, which
    reaches the command under the first of the two that ``names`` lists."""
    plain = next((n for n in names if n in ("txt", "text")), None)
    choices = list(names) + [other for other in ("txt", "text") if plain and other not in names]

    def same(ctx, param, value):
        return plain if value in ("txt", "text") else value

    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=default is not None, callback=same, help=help)
