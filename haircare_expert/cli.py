"""The ``haircare`` command: a thin shell over the library.

Each command parses its options, calls the library and writes the result. Every
:class:`~haircare_expert.errors.HaircareError` becomes one line ``Error: <where>: <what>`` on
stderr and the exit code of its class (see :class:`~haircare_expert.errors.ExitCode`).
"""
from __future__ import annotations

import functools
import sys
import traceback

import click

from . import __version__
from .errors import ExitCode, HaircareError

RULES_HELP = ("Add a folder of your own rules (repeatable; also $HAIRCARE_RULES, separated by "
              "':'). A rule with the id of a shipped rule replaces it.")


class HaircareGroup(click.Group):
    """Maps the library's errors to one ``Error:`` line and a documented exit code."""

    def main(self, *args, **kwargs):
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, standalone_mode=False, **{k: v for k, v in kwargs.items() if k != "standalone_mode"})
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
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            sys.exit(0)
        except Exception as exc:  # a bug: still one line, unless --traceback asks for more
            if _wants_traceback():
                traceback.print_exc()
            click.echo(f"Error: internal error: {type(exc).__name__}: {exc} (run with --traceback "
                       "to see where)", err=True)
            sys.exit(int(ExitCode.INTERNAL))


def _wants_traceback() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and root.params.get("traceback")) or "--traceback" in sys.argv


def rules_option(func):
    """The ``--rules DIR`` option every command that runs rules accepts."""
    return click.option("--rules", "rules_dirs", multiple=True, envvar="HAIRCARE_RULES",
                        type=click.Path(exists=True, file_okay=False), help=RULES_HELP)(func)


@functools.lru_cache(maxsize=4)
def _advisor(rules_dirs: tuple):
    from .consultation import Advisor
    return Advisor(extra_rules=rules_dirs)


def advisor(rules_dirs=()):
    """The knowledge base compiled once per process for this set of rule folders."""
    return _advisor(tuple(rules_dirs))


def emit(data, output, binary: bool = False) -> None:
    """Write to ``output`` atomically, or to stdout when no file is named."""
    from .report import write_atomic
    if output:
        write_atomic(output, data)
    elif isinstance(data, bytes):
        click.get_binary_stream("stdout").write(data)
    else:
        click.echo(data, nl=False)


@click.group(cls=HaircareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="haircare")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
def main(traceback):
    """Hair and scalp care advice from a rule-based expert system.

    Interview a client, print an advice report, and audit why each piece of advice was given.
    Exit codes: 0 ok, 1 changed/failed check, 2 usage, 3 bad profile, 4 bad rules,
    5 not found, 6 inference failed, 7 report failed, 70 internal error, 130 interrupted.
    """


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "md", "txt", "json"]),
              help="Report format (default: from the -o extension, else txt).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file (atomically) instead of stdout.")
@rules_option
def advise(profile, fmt, output, rules_dirs):
    """Print the advice report for the client described in PROFILE (YAML or JSON)."""
    from .report import format_for, render
    consultation = advisor(rules_dirs).consult_file(profile)
    fmt = fmt or format_for(output)
    if fmt == "pdf" and not output:
        raise click.UsageError("a PDF report needs -o FILE")
    emit(render(consultation, fmt), output)
