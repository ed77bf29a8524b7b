"""The ``haircare`` command: a thin shell over the library.

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

from .errors import ExitCode, HaircareError
from .model import RULE_KINDS

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
        from . import __version__
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
    from .rulebook import Rulebook
    return Rulebook.load(rules_dirs)


def rulebook(rules_dirs=()):
    """The rules loaded once per process, for commands that read rules but run none."""
    return _rulebook(tuple(rules_dirs))


@functools.lru_cache(maxsize=4)
def _advisor(rules_dirs: tuple):
    from .consultation import Advisor
    return Advisor(rulebook(rules_dirs))


def advisor(rules_dirs=()):
    """The knowledge base compiled once per process for this set of rule folders."""
    return _advisor(tuple(rules_dirs))


def emit(data, output, binary: bool = False) -> None:
    """Write to ``output`` atomically, or to stdout when no file is named."""
    from .atomic import write_atomic
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


# -- haircare batch: many profiles, JSON lines in and out (the work is in batch.py) ------------
@main.command()
@click.argument("profiles", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Write the results here: one advice JSON per line, in input order.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (each compiles the rules once).")
@rules_option
def batch(profiles, output, jobs, rules_dirs):
    """Advise every profile in PROFILES (JSON lines: one profile object per line).

    Each output line is the JSON of 'haircare advise --format json', compact, in input order.
    A bad line stops the batch with an error naming FILE:LINE, and no output file is written.
    """
    from . import batch as batching
    options = dict(advisor=advisor(rules_dirs), rules_dirs=rules_dirs, jobs=jobs)
    if not sys.stderr.isatty():
        result = batching.run(profiles, output, **options)
    else:
        with click.progressbar(length=batching.count_lines(profiles), label="Advising",
                               file=sys.stderr) as bar:
            result = batching.run(profiles, output, **options,
                                  progress=lambda done: bar.update(done - bar.pos))
    click.echo(f"{result.profiles} profile(s) advised; written to {output}", err=True)


# -- audit: haircare explain | trace | replay ---------------------------------------------------
AUDIT_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                            show_default=True, help="Output format.")


def _dump(data) -> str:
    import json
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False))
@click.argument("rule_id")
@AUDIT_FORMAT
@rules_option
def explain(profile, rule_id, fmt, rules_dirs):
    """Say why rule RULE_ID fired for PROFILE (down to the client's answers), or why it did not."""
    from .explain import explain as explain_rule, render_text
    adv = advisor(rules_dirs)
    adv.rulebook.get(rule_id)  # an unknown id fails before the consultation runs
    result = explain_rule(adv.consult_file(profile), adv.rulebook, rule_id)
    emit(_dump(result.to_json()) if fmt == "json" else render_text(result), None)


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False))
@AUDIT_FORMAT
@rules_option
def trace(profile, fmt, rules_dirs):
    """Print the firing sequence for PROFILE: each rule, the facts it matched and declared."""
    from . import trace as tracing
    adv = advisor(rules_dirs)
    consultation = adv.consult_file(profile)
    if fmt == "json":
        emit(_dump(tracing.to_json(consultation, adv.rulebook)), None)
    else:
        emit(tracing.render_text(consultation, adv.rulebook), None)


@main.command()
@click.argument("record", type=click.Path(dir_okay=False))
@AUDIT_FORMAT
@rules_option
def replay(record, fmt, rules_dirs):
    """Re-run an audit RECORD (the JSON of 'advise --format json') against the current rules.

    Prints the advice added, removed or changed and the rule edits behind each change.
    Exit code 0: no change; 1: the advice changed.
    """
    from .replay import load_record, render_text, replay as replay_record
    result = replay_record(load_record(record), advisor(rules_dirs), where=str(record))
    emit(_dump(result.to_json()) if fmt == "json" else render_text(result), None)
    if result.changed:
        # Not ctx.exit(): HaircareGroup runs click with standalone_mode=False, where click turns
        # Exit into a return value and the code would be lost.
        sys.exit(int(ExitCode.CHANGED))


# -- haircare interview: the adaptive consultation (the dialogue lives in interview.py) ---------
DEFAULT_SESSION = "haircare-session.yaml"


@main.command()
@click.option("--resume", type=click.Path(dir_okay=False),
              help="Continue the interview saved in this session file.")
@click.option("--session", "session_path", type=click.Path(dir_okay=False),
              help=f"Keep the answers in this file, rewritten after every answer (default: "
                   f"{DEFAULT_SESSION}). An existing file is never overwritten: --resume it.")
@click.option("--save", type=click.Path(dir_okay=False),
              help="At the end, write the client's profile here (it loads with 'haircare advise').")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="At the end, write the report here, in the format of its extension "
                   "(.txt .md .html .json .pdf); without it the text report is printed.")
@click.option("--date", help="The consultation date to record (YYYY-MM-DD); otherwise it is "
                             "asked, and may be left out.")
@rules_option
def interview(resume, session_path, save, output, date, rules_dirs):
    """Interview a client, asking only what can still change the advice.

    At any question type ? or why (why it is asked), back (revise the previous answer),
    unknown (the client does not know) or quit (save and stop). The answers are saved after
    every answer (and, with --save, the profile so far too). Answers may be piped on stdin;
    the end of the input saves and stops.
    """
    import os
    import re
    import shutil
    import textwrap

    from . import interview as iv
    from .errors import ProfileError
    from .atomic import write_atomic
    from .report import format_for, render
    from .yamlio import read_text

    if resume and session_path:
        raise click.UsageError("give --resume FILE or --session FILE, not both")
    path = resume or session_path or DEFAULT_SESSION
    adv = advisor(rules_dirs)
    if resume:
        session = iv.Session.parse(read_text(path, ProfileError), path, adv.vocabulary)
    elif os.path.exists(path):
        raise ProfileError(path, f"a saved interview is already here; continue it with --resume {path}, "
                                 "or keep the new one elsewhere with --session FILE")
    else:
        session = iv.Session()
    talk = iv.Interview(adv, session)
    if date:
        try:
            talk.preset("client.date", iv.parse_answer(talk.book.by_ask["client.date"], date))
        except ProfileError as exc:
            raise click.BadParameter(exc.what, param_hint="--date") from None

    def keep() -> None:
        write_atomic(path, talk.session.dump())
        if save:  # the profile so far, in the profile format, after every answer too
            write_atomic(save, iv.dump_profile(talk.session.profile()))

    keep()
    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  (line editing for input())
        except ImportError:
            pass
    width = min(shutil.get_terminal_size((100, 24)).columns, 100) - 1 if sys.stdout.isatty() else 0

    def say(line: str = "") -> None:
        """One line, wrapped to the terminal (continuation lines indented under the text)."""
        if width and len(line) > width:
            lead = re.match(r"\s*(?:[-+] |\d+\. |\()?", line).end()
            line = textwrap.fill(line, width, subsequent_indent=" " * lead,
                                 break_long_words=False, break_on_hyphens=False)
        click.echo(line)

    say(f"Answers are saved in {path} after each one.")
    say("At any question you may type: ? or why, back, unknown, quit.")
    show = True
    try:
        while not talk.finished:
            if show:
                say()
                for line in talk.question_lines():
                    say(line)
            try:
                typed = input("> ")
            except EOFError:
                typed = None
            if typed is None or not interactive:
                click.echo(typed or "")       # a readable transcript when answers are piped
            reply = talk.handle(typed) if typed is not None else iv.Reply("quit")
            if reply.changed:
                keep()
            for line in reply.lines:
                say(f"  {line}")
            for title in reply.new_advice:
                say(f"  + advice: {title}")
            if reply.kind == "quit":
                say(f"Stopped. {len(talk.session.history)} answer(s) saved in {path}; "
                    f"continue with: haircare interview --resume {path}")
                return
            show = reply.kind in ("answered", "back")
    except KeyboardInterrupt:
        click.echo(f"\nAnswers so far are saved in {path}.\n"
                   f"Continue with: haircare interview --resume {path}", err=True)
        raise
    talk.session.finished = True
    keep()
    say()
    say("The interview is complete.")
    for line in talk.summary_lines():
        say(line)
    consultation = talk.consultation()
    if save:
        say(f"Profile saved to {save}")
    if output:
        write_atomic(output, render(consultation, format_for(output)))
        say(f"Report written to {output}")
    else:
        say()
        click.echo(render(consultation, "txt"), nl=False)


# -- knowledge-base tools: haircare rules list | show | lint | test ----------------------------
FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="Output format.")


def _json(data) -> None:
    import json
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@main.command()
@click.argument("products", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["txt", "md", "json"]), default="txt",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the table to this file (atomically) instead of stdout.")
@rules_option
def compare(products, fmt, output, rules_dirs):
    """Compare products side by side, e.g. `haircare compare hair_serum hair_mask`.

    The table (what it is, what it does, benefits, when to use it, side effects, how to use
    it) is generated from the product knowledge in the rules, with the rules and sources used.
    """
    from .compare import compare as build, render
    if len(products) < 2:
        raise click.UsageError("name at least two products to compare, e.g. hair_serum hair_mask")
    emit(render(build(rulebook(rules_dirs), products), fmt), output)


@main.group()
def rules():
    """Knowledge-base tools for whoever maintains the rules: list, show, lint, test."""


@rules.command("list")
@click.option("--tag", "tags", multiple=True, help="Only rules with this tag (repeatable: all must match).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(RULE_KINDS), help="Only rules of this kind (repeatable: any may match).")
@FORMAT_OPTION
@rules_option
def rules_list(tags, kinds, fmt, rules_dirs):
    """List the rules (id, kind, title, sources); + marks your own, * a replaced one."""
    book = rulebook(rules_dirs)
    chosen = [r for r in book.rules if set(tags) <= set(r.tags) and (not kinds or r.kind in kinds)]
    rows = [{"id": r.id, "kind": r.kind, "title": r.title, "origin": r.origin,
             "sources": sorted({s.get("source", "own") for s in r.sources}), "tags": list(r.tags),
             "where": r.location} for r in chosen]
    if fmt == "json":
        return _json({"rules": rows, "count": len(rows)})
    mark = {"shipped": " ", "custom": "+", "override": "*"}
    width = max([len(r["id"]) for r in rows] + [2])
    for row in rows:
        click.echo(f"{mark[row['origin']]} {row['id']:<{width}}  {row['kind']:<14}  {row['title']}"
                   f"  [{', '.join(row['sources'])}]")
    click.echo(f"{len(rows)} of {len(book)} rules")


@rules.command("show")
@click.argument("rule_id")
@FORMAT_OPTION
@rules_option
def rules_show(rule_id, fmt, rules_dirs):
    """Show a rule as written, in words, and what feeds it and uses it."""
    from .lint import render_rule_info, rule_info
    info = rule_info(rulebook(rules_dirs), rule_id)
    if fmt == "json":
        return _json(info)
    click.echo(render_rule_info(info), nl=False)


@rules.command("lint")
@FORMAT_OPTION
@rules_option
def rules_lint(fmt, rules_dirs):
    """Check the rules for mistakes; exit 1 on errors.

    Errors: rules that do not load (file:line), rules that can never fire, rules that always
    give opposite advice. Warnings: alternatives that can never hold, conclusions and
    questions nothing uses, advice that can clash on some profiles, rules without examples.
    """
    from .lint import lint, render_lint
    report = lint(rules_dirs)
    if fmt == "json":
        _json(report.to_json())
    else:
        click.echo(render_lint(report), nl=False)
    if not report.ok:
        sys.exit(int(ExitCode.CHANGED))   # not ctx.exit: its code is lost under standalone_mode=False


@rules.command("test")
@click.option("--examples", "examples_dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of example profiles (default: the shipped facts/examples), with an "
                   "optional expected.yaml: file -> {fires: [ids], silent: [ids]}.")
@click.option("-q", "--quiet", is_flag=True, help="List failed cases only.")
@FORMAT_OPTION
@rules_option
def rules_test(examples_dir, quiet, fmt, rules_dirs):
    """Run the rules' examples and the example profiles; exit 1 if one fails.

    Also reports coverage: rules never fired, rules with no silent case, alternatives of 'any'
    never taken, and conditions no case shows to matter.
    """
    from .ruletest import render_text, run_tests
    report = run_tests(advisor(rules_dirs), examples=examples_dir)
    if fmt == "json":
        _json(report.to_json())
    else:
        click.echo(render_text(report, quiet), nl=False)
    if not report.ok:
        sys.exit(int(ExitCode.CHANGED))   # not ctx.exit: its code is lost under standalone_mode=False
