"""haircare interview: the terminal dialogue over the library's interview and the records store.

Every interview is a consultation in the records database, committed after every answer: the
next client is never refused, ``--resume`` lists or continues an unfinished one (with the
``--save``/``-o``/``--session`` files it was started with), and ``--client NAME`` starts a
follow-up visit from that client's last one.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from haircare_expert.atomic import check_target, is_stdout
from haircare_expert.cli.base import advisor, emit, main, refuse_same_files, rules_option
from haircare_expert.cli.console import Console
from haircare_expert.cli.records import _one_line, db_option, open_store, summary_lines
from haircare_expert.consult import followup
from haircare_expert.engine.freeze import freeze_compiled
from haircare_expert.errors import ProfileError, ReportError

#: What a follow-up's review accepts: keep the section as it was, or ask it again.
_SAME = ("", "y", "yes", "same", "ok", "1")
_CHANGE = ("n", "no", "change", "c", "2")


@contextlib.contextmanager
def _locked(path: str):
    """Hold an exclusive lock on a session file for the life of the run (a ``.lock`` beside it).

    The session itself is replaced atomically after every answer, so the lock lives on a
    separate file; a second run on the same session gets a clear error instead of both
    "succeeding" and one client being lost.
    """
    import fcntl
    target = Path(path)
    lock = target.with_name(f".{target.name}.lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise ReportError(path, f"cannot lock the session file ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(lock).st_ino:   # removed by the run that held it
                raise OSError
        except OSError:
            raise ProfileError(path, "this session is open in another interview right now; finish "
                                     "or quit that one first") from None
        try:
            yield
        finally:                  # the holder removes it; a killed run's stale file is harmless
            with contextlib.suppress(OSError):
                os.unlink(lock)
    finally:
        os.close(fd)


def _same_file(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return os.path.realpath(a) == os.path.realpath(b)


@main.command()
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[ID]",
              help="Without ID: list the unfinished consultations. With ID: continue that one "
                   "(its --save, -o and --session files are remembered). A session FILE works too.")
@click.option("--client", "client", metavar="NAME",
              help="A follow-up visit: start from this client's last consultation; each section "
                   "is shown to confirm or change.")
@click.option("--consultant", help="The consultant's name (remembered for the next interviews).")
@click.option("--session", "session_path", type=click.Path(dir_okay=False),
              help="Also keep the answers in this portable session file, rewritten after every "
                   "answer. An existing file is never overwritten: --resume it.")
@click.option("--save", type=click.Path(dir_okay=False),
              help="Write the client's profile here (after every answer; it loads with "
                   "'haircare advise'). An existing file is not replaced without --force.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="At the end, write the report here, in the format of its extension "
                   "(.txt .md .html .json .pdf); without it the text report is printed.")
@click.option("--force", is_flag=True, help="Let --save replace a file this interview did not write.")
@click.option("--date", help="The consultation date (YYYY-MM-DD; default: today).")
@db_option
@rules_option
def interview(resume, client, consultant, session_path, save, output, force, date, db, rules_dirs):
    """Interview a client, asking only what can still change the advice.

    Every interview is a new consultation in the records, saved after every answer. At any
    question type ? or why (why it is asked), back (revise the previous answer), unknown (the
    client does not know) or quit / exit / q (save and stop). Answers may be typed as numbers
    or as the words shown, and may be piped on stdin; the end of the input saves and stops.
    """
    from haircare_expert.consult import interview as iv

    if resume is not None and client:
        raise click.UsageError("give --resume or --client, not both")
    by_file = resume is not None and resume.strip() != "" and not resume.strip().isdigit()
    if by_file and session_path and not _same_file(session_path, resume):
        raise click.UsageError("give --resume FILE or --session FILE, not both")
    # an output naming the session being resumed, or two outputs naming one file, would lose one
    refuse_same_files([("--resume", resume if by_file else None)],
                      [("--save", save), ("-o", output), ("--session", None if by_file else session_path)])
    for target in (save, output, session_path):
        if target and not is_stdout(target):
            check_target(target)       # never replace a link, a device, a FIFO or a read-only file
    day = None
    if date is not None:
        try:
            day = _dt.date.fromisoformat(date.strip()).isoformat()
        except ValueError:
            raise click.BadParameter(f"{date!r} is not a date; use YYYY-MM-DD",
                                     param_hint="--date") from None

    ctx = click.get_current_context()
    db_hint = f" --db {db}" if db and ctx.get_parameter_source("db").name == "COMMANDLINE" else ""
    with open_store(db) as store:
        if resume == "":
            unfinished = store.list(unfinished=True)
            if not unfinished:
                click.echo("No unfinished consultations.")
                return
            click.echo("Unfinished consultations:")
            for line in summary_lines(unfinished):
                click.echo(f"  {line}")
            click.echo(f"Continue one with: haircare interview --resume ID{db_hint}")
            return
        _run(store, iv, resume=resume, client=client, consultant=consultant,
             session_path=session_path, save=save, output=output, force=force, day=day,
             rules_dirs=rules_dirs, db_hint=db_hint)


@dataclass
class _Run:
    """What one interview run works with, from the options and then the records."""

    save: str | None
    output: str | None
    session_path: str | None
    rules_dirs: tuple
    record: Any = None              #: the consultation continued (None until one is started)
    previous: Any = None            #: the visit a follow-up starts from
    review: list[str] = field(default_factory=list)   #: the follow-up sections still to review


def _run(store, iv, *, resume, client, consultant, session_path, save, output, force, day,
         rules_dirs, db_hint):
    run = _Run(save, output, session_path, rules_dirs)
    by_file = resume is not None and not resume.strip().isdigit()
    _resume_from(store, run, resume, by_file)
    adv = advisor(run.rules_dirs)
    freeze_compiled()   # a long-lived process: keep the collector off the compiled network
    # the session file is locked before anything is read or written
    with _locked(run.session_path) if run.session_path else contextlib.nullcontext():
        session = _session(store, iv, adv, run, resume if by_file else None, client)
        # an existing --save file is replaced only if this consultation wrote it, or with --force
        owned = run.record is not None and _same_file(run.save, run.record.targets.get("save"))
        if run.save and os.path.lexists(run.save) and not (force or owned):
            raise ReportError(run.save, "a file is already here; the interview does not replace a file "
                                        "it did not write (give another name, or --force)")
        talk = _interview(store, iv, adv, session, run, day=day, consultant=consultant, client=client)
        targets = _start(store, talk, run, client)
        state = {"record": run.record}
        keep = _keeper(store, iv, talk, run, state, targets)
        if not run.record.finished:
            keep()
        _dialogue(store, talk, iv, state, keep, run.review, run.previous, run.save, run.output, db_hint)


def _resume_from(store, run: _Run, resume: str | None, by_file: bool) -> None:
    """``--resume ID``: the consultation, with the files and rules it was started with;
    ``--resume FILE``: a portable session file. A new interview never takes over a session
    file that is already there."""
    if resume is not None and not by_file:
        run.record = store.get(int(resume))
        remembered = run.record.targets
        run.rules_dirs = run.rules_dirs or tuple(remembered.get("rules") or ())
        run.save = run.save or remembered.get("save")
        run.output = run.output or remembered.get("output")
        run.session_path = run.session_path or remembered.get("session")
        run.review = list(remembered.get("review") or [])
    elif by_file:
        run.session_path = resume
    elif run.session_path and os.path.lexists(run.session_path):
        raise ProfileError(run.session_path, f"a saved interview is already here; continue it with "
                                             f"--resume {run.session_path}, or name another --session FILE")


def _session(store, iv, adv, run: _Run, session_file: str | None, client: str | None):
    """The answers to start from: a session file (and the consultation it belongs to), the
    consultation resumed, the client's last visit for a follow-up, or none."""
    from haircare_expert.yamlio import read_text

    session = None
    if session_file is not None:
        session = iv.Session.parse(read_text(session_file, ProfileError), session_file, adv.vocabulary)
        wanted = os.path.realpath(session_file)
        found = next((r for r in store.list() if r.targets.get("session")
                      and os.path.realpath(r.targets["session"]) == wanted), None)
        if found is not None:            # the consultation this file belongs to
            run.record = store.get(found.id)
            run.save = run.save or run.record.targets.get("save")
            run.output = run.output or run.record.targets.get("output")
    if run.record is not None:
        session = iv.Session.from_data(run.record.session, f"record {run.record.id}", adv.vocabulary)
        run.previous = followup.followed(store, run.record)
    elif session_file is None:
        session = iv.Session()
        if client:
            run.previous = followup.last_visit(store, client)
            session = followup.seeded_session(run.previous, adv.vocabulary)
    return session


def _interview(store, iv, adv, session, run: _Run, *, day, consultant, client):
    """The interview over ``session``, with the client block the command line gives."""
    talk = iv.Interview(adv, session)
    if run.record is None or day:
        talk.preset("client.date", day or _dt.date.today().isoformat())
    name = consultant or (store.setting("consultant") if run.record is None else "")
    if name and name.strip():
        talk.preset("client.consultant", name.strip()[:200], replace=bool(consultant))
    if client:
        talk.preset("client.name", client.strip()[:200])
    return talk


def _start(store, talk, run: _Run, client: str | None) -> dict:
    """The files and rules to remember with the consultation; a new one is started in the
    records (a follow-up first reviews every section the last visit answered)."""
    targets = {"save": run.save, "output": run.output,
               "session": os.path.abspath(run.session_path) if run.session_path else None,
               "rules": [str(d) for d in run.rules_dirs]}
    if run.record is None:
        if run.previous is not None:
            run.review = [section for section, _ in talk.review_sections()]
        targets["review"] = run.review
        run.record = store.start(client=client or "", rules_dirs=run.rules_dirs, targets=targets,
                                 follows=run.previous.id if run.previous else None,
                                 session=talk.session.to_data())
    return targets


def _keeper(store, iv, talk, run: _Run, state: dict, targets: dict):
    """What saves the interview after every answer: the records, the session file, the profile."""
    def keep() -> None:
        from haircare_expert.atomic import write_atomic
        targets["review"] = run.review
        state["record"] = store.save_answers(state["record"].id, talk.session.to_data(),
                                             version=state["record"].version, targets=targets)
        if run.session_path:
            write_atomic(run.session_path, talk.session.dump())
        if run.save:  # the profile so far, in the profile format, after every answer too
            write_atomic(run.save, iv.dump_profile(talk.session.profile()))
    return keep


#: Makes the console the dialogue talks through (tests swap it for a scripted one).
make_console = Console


def _dialogue(store, talk, iv, state, keep, review, previous, save, output, db_hint):
    """The consultation at the terminal: the follow-up review, the questions, then the report."""
    console = make_console()
    say = console.say
    rec = state["record"]
    resume_hint = f"haircare interview --resume {rec.id}{db_hint}"

    def stopped() -> None:
        say(f"Stopped. {len(talk.session.history)} answer(s) saved in consultation {rec.id}; "
            f"continue with: {resume_hint}")
        _remember(store, talk)

    if rec.finished:
        say(f"Consultation {rec.id} is already finished; here is its report again.")
    else:
        say(f"Consultation {rec.id}: the answers are saved in the records after each one.")
        say("At any question you may type: ? or why, back, unknown, quit.")
    try:
        if review and previous is not None and not rec.finished and not _review(console, talk, iv, review, previous, keep):
            return stopped()
        if not rec.finished and not _questions(console, talk, iv, keep):
            return stopped()
    except KeyboardInterrupt:
        click.echo(f"\nAnswers so far are saved in consultation {rec.id}.\n"
                   f"Continue with: {resume_hint}", err=True)
        raise
    _finish(console, store, talk, iv, state, keep, previous, save, output)


def _review(console, talk, iv, review: list[str], previous, keep) -> bool:
    """A follow-up: each section of the last visit kept or asked again; False if she quit."""
    say = console.say
    say()
    say(f"A follow-up visit: the answers from the last visit ({previous.date or 'no date'}) "
        "are shown section by section.")
    sections = dict(talk.review_sections())
    while review:
        name = review[0]
        say()
        for line in sections.get(name, []):
            say(line)
        say("Still the same? (yes, or change to ask again)")
        typed = console.ask()
        answer = None if typed is None else typed.strip().lower()
        if answer is None or answer in iv.dialogue.QUIT_WORDS:
            return False
        if answer in _SAME:
            review.pop(0)
        elif answer in _CHANGE:
            talk.change_section(name)
            review.pop(0)
        else:
            say("  Sorry, type yes (or press Enter) to keep it, or change to ask again.")
            continue
        keep()
    return True


def _questions(console, talk, iv, keep) -> bool:
    """Question after question until nothing left can change the advice; False if she quit."""
    say = console.say
    show = True
    while not talk.finished:
        if show:
            say()
            for line in talk.question_lines():
                say(line)
        typed = console.ask()
        reply = talk.handle(typed) if typed is not None else iv.Reply("quit")
        if reply.changed:
            keep()
        for line in reply.lines:
            say(f"  {line}")
        for title in reply.new_advice:
            say(f"  + advice: {title}")
        for title in reply.withdrawn:
            say(f"  – no longer advised: {title}")
        if reply.kind == "quit":
            return False
        show = reply.kind in ("answered", "back")
    return True


def _finish(console, store, talk, iv, state, keep, previous, save, output) -> None:
    """The consultation stored as finished, its summary shown, the profile and report written."""
    from haircare_expert.atomic import write_atomic
    from haircare_expert.render.formats import format_for, render

    say = console.say
    rec = state["record"]
    consultation = talk.consultation()
    followup.since_last_visit(consultation, previous, talk.book)
    if not rec.finished:
        talk.session.finished = True
        keep()
        state["record"] = store.finish(rec.id, talk.session.to_data(), consultation,
                                       version=state["record"].version)
        _remember(store, talk)
    say()
    say("The interview is complete.")
    for line in talk.summary_lines():
        say(line)
    if consultation.followup is not None:
        for line in _followup_lines(consultation.followup):
            say(line)
    if save:
        write_atomic(save, iv.dump_profile(talk.session.profile()))
        say(f"Profile saved to {save}")
    if output and not is_stdout(output):
        write_atomic(output, render(consultation, format_for(output)))
        say(f"Report written to {output}")
    elif output:
        say()
        emit(render(consultation, "txt"), output)
    else:
        say()
        click.echo(render(consultation, "txt"), nl=False)
    say(f"Saved in the records as consultation {rec.id}.")


def _remember(store, talk) -> None:
    """Remember the consultant's name for the next interview."""
    name = talk.session.answers.get("client.consultant")
    if isinstance(name, str) and name.strip():
        store.set_setting("consultant", name.strip())


def _followup_lines(followup) -> list[str]:
    lines = [f"Since the last visit ({followup.previous_date or 'no date'}):"]
    for label, items in (("gone", followup.gone), ("new", followup.new),
                         ("products started", followup.started),
                         ("products stopped", followup.stopped)):
        if items:
            lines.append(f"  {label}: {', '.join(_one_line(i) for i in items)}")
    lines += [f"  {_one_line(change)}" for change in followup.plan_changes]
    if len(lines) == 1:
        lines.append("  nothing changed")
    return lines
