"""The ``haircare`` group: error mapping, shared options, the compiled rules cached per process.

Each command parses its options, calls the library and writes the result. Every
:class:`~haircare_expert.errors.HaircareError` becomes one line ``Error: <where>: <what>`` on
stderr and the exit code of its class (see :class:`~haircare_expert.errors.ExitCode`).
"""
from __future__ import annotations

import functools
import os
import sys
import traceback

import click

from haircare_expert.errors import ExitCode, HaircareError

RULES_HELP = ("Add a folder of your own rules (repeatable; also $HAIRCARE_RULES, separated by "
              "':'). A rule with the id of a shipped rule replaces it.")


class HaircareGroup(click.Group):
    """Maps the library's errors to one ``Error:`` line and a documented exit code."""

    def main(self, *args, **kwargs):
        try:
            result = super().main(*args, standalone_mode=False, **{k: v for k, v in kwargs.items() if k != "standalone_mode"})
            # standalone_mode=False makes click return ctx.exit(code) instead of exiting
            if isinstance(result, int) and not isinstance(result, bool) and result:
                sys.exit(result)
            return result
        except HaircareError as exc:
            if _wants_traceback():
                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
            sys.exit(int(exc.exit_code))
        except click.exceptions.Abort:
            click.echo("Error: interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.NoArgsIsHelpError as exc:
            # `haircare` or `haircare rules` alone: the help, as asked for, not an error
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.UsageError as exc:
            # one line, like every other error, with a pointer to the help
            path = exc.ctx.command_path if exc.ctx else "haircare"
            click.echo(f"Error: {path}: {exc.format_message()} (see '{path} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:  # a bug: still one line, unless --traceback asks for more
            if _wants_traceback():
                traceback.print_exc()
            click.echo(f"Error: internal error: {type(exc).__name__}: {exc} (run with --traceback "
                       "to see where)", err=True)
            sys.exit(int(ExitCode.INTERNAL))


    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # the reader went away (`haircare rules list | head`): that is not a failure
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None


def _show_version(ctx, param, value) -> None:
    """``--version``, reading the installed version only when asked (a lazy import)."""
    if value and not ctx.resilient_parsing:
        from haircare_expert import __version__
        click.echo(f"haircare, version {__version__}")
        ctx.exit()


def _wants_traceback() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and root.params.get("traceback")) or bool(os.environ.get("HAIRCARE_TRACEBACK"))


class _RuleFolder(click.Path):
    """A rule folder; in $HAIRCARE_RULES empty entries are ignored, as in PATH."""

    def split_envvar_value(self, rv: str):
        return [part for part in rv.split(os.pathsep) if part]


def rules_option(func):
    """The ``--rules DIR`` option every command that runs rules accepts."""
    return click.option("--rules", "rules_dirs", multiple=True, envvar="HAIRCARE_RULES",
                        type=_RuleFolder(exists=True, file_okay=False), help=RULES_HELP)(func)


@functools.lru_cache(maxsize=4)
def _rulebook(rules_dirs: tuple):
    from haircare_expert.knowledge.cache import load_rulebook  # Rulebook.load, cached (verified)
    return load_rulebook(rules_dirs)


def rulebook(rules_dirs=()):
    """The rules loaded once per process, for commands that read rules but run none."""
    return _rulebook(tuple(rules_dirs))


@functools.lru_cache(maxsize=4)
def _advisor(rules_dirs: tuple):
    from haircare_expert.consult.advisor import Advisor
    return Advisor(rulebook(rules_dirs))


def advisor(rules_dirs=()):
    """The knowledge base compiled once per process for this set of rule folders."""
    return _advisor(tuple(rules_dirs))


def emit(data, output, binary: bool = False) -> None:
    """Write to ``output`` atomically, or to stdout when no file is named."""
    from haircare_expert.atomic import write_atomic
    if output:
        write_atomic(output, data)
    elif isinstance(data, bytes):
        click.get_binary_stream("stdout").write(data)
    else:
        click.echo(data, nl=False)


@click.group(cls=HaircareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, is_eager=True, expose_value=False,
              callback=_show_version,
              help="Show the version and exit.")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
def main(traceback):
    """Hair and scalp care advice from a rule-based expert system.

    Interview a client, print an advice report, and audit why each piece of advice was given.
    Set HAIRCARE_TRACEBACK=1 (or pass --traceback first) to see the full traceback of an error.
    Exit codes: 0 ok, 1 changed/failed check, 2 usage, 3 bad profile, 4 bad rules,
    5 not found, 6 inference failed, 7 report failed, 70 internal error, 130 interrupted.
    """
