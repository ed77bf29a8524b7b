"""haircare interview: the terminal dialogue over the library's interview."""
from __future__ import annotations

import sys

import click

from haircare_expert.cli.base import advisor, main, rules_option

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

    from haircare_expert.atomic import write_atomic
    from haircare_expert.consult import interview as iv
    from haircare_expert.errors import ProfileError
    from haircare_expert.render.formats import format_for, render
    from haircare_expert.yamlio import read_text

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
