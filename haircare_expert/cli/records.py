"""haircare records: the client records in the database (list, show, export, import, delete)."""
from __future__ import annotations

import contextlib
import json
import sys

import click

from haircare_expert.cli.base import emit, format_option, main, rulebook

DB_HELP = ("The records database: a SQLAlchemy URL (postgresql+psycopg://USER@HOST/DB) or a "
           "SQLite file (default: records.sqlite3 in your user data folder; also $HAIRCARE_DB).")


def db_option(func):
    """The ``--db URL`` option of every command that reads or writes the records."""
    return click.option("--db", "db", envvar="HAIRCARE_DB", metavar="URL", help=DB_HELP)(func)


@contextlib.contextmanager
def open_store(db):
    """The records store for ``--db`` (or the default), closed afterwards."""
    from haircare_expert.store import Store
    store = Store.open(db or None)
    try:
        yield store
    finally:
        store.close()


def _one_line(text: str) -> str:
    """A stored name on one line, without control characters (it goes to a terminal)."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(str(text).split()))


def record_summary(rec) -> dict:
    return {"id": rec.id, "client": rec.client, "consultant": rec.consultant, "date": rec.date,
            "finished": rec.finished, "answers": rec.answers, "created": rec.created,
            "updated": rec.updated, "version": rec.version, "follows": rec.follows,
            "kb_version": rec.kb_version}


def summary_lines(recs) -> list[str]:
    """The records as an aligned table, one line each."""
    rows = [(str(r.id), r.date or "-", _one_line(r.client) or "(no name yet)",
             _one_line(r.consultant) or "-",
             "finished" if r.finished else f"unfinished, {r.answers} answer(s)")
            for r in recs]
    heads = ("ID", "DATE", "CLIENT", "CONSULTANT", "STATUS")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(heads)]
    out = []
    for row in [heads, *rows]:
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return out


@main.group()
def records():
    """Client records: every consultation, finished or not, kept in the records database.

    The database is a SQLite file in your user data folder unless --db URL or $HAIRCARE_DB
    names another (any SQLAlchemy URL; PostgreSQL for several salons).
    """


@records.command("list")
@click.option("--client", help="Only this client's consultations (any case).")
@click.option("--unfinished", is_flag=True, help="Only consultations not finished yet.")
@format_option("text", "json")
@db_option
def list_records(client, unfinished, fmt, db):
    """List the consultations, newest first."""
    with open_store(db) as store:
        recs = store.list(client=client, unfinished=unfinished)
    if fmt == "json":
        emit(json.dumps([record_summary(r) for r in recs], indent=2, ensure_ascii=False) + "\n", None)
    elif not recs:
        click.echo("No consultations" + (" for this client." if client else " yet."))
    else:
        click.echo("\n".join(summary_lines(recs)))


@records.command("show")
@click.argument("record_id", type=int, metavar="ID")
@click.option("--for", "audience", type=click.Choice(["client", "consultant"]), default="client",
              show_default=True, help="The client's handout or the consultant's record.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the report here, in the format of its extension (.txt .md .html .json .pdf).")
@db_option
def show(record_id, audience, output, db):
    """Print a stored consultation: the report as it was given (or the answers so far)."""
    from haircare_expert.consult.followup import followed, since_last_visit
    from haircare_expert.consult.interview import dump_profile
    from haircare_expert.errors import HaircareError
    from haircare_expert.render.formats import format_for
    from haircare_expert.store.rebuild import consultation_of
    with open_store(db) as store:
        rec = store.get(record_id)
        previous = followed(store, rec) if rec.finished else None
    if not rec.finished:
        profile = (rec.session or {}).get("profile") or {}
        click.echo(f"Consultation {rec.id} is not finished ({rec.answers} answer(s)); continue it "
                   f"with: haircare interview --resume {rec.id}")
        click.echo("Answers so far:")
        click.echo(dump_profile(profile, header=False) or "(none)", nl=False)
        return
    try:
        book = rulebook(tuple(rec.targets.get("rules") or ()))
    except HaircareError:                  # the consultant's rule folder has gone: source titles
        book = rulebook(())                # from the shipped catalogue are good enough
    consultation = consultation_of(rec.record, book, where=f"record {rec.id}")
    if previous is not None:                          # a follow-up: "since your last visit"
        from haircare_expert.consult.interview import QuestionBook
        since_last_visit(consultation, previous, QuestionBook.load(book.vocabulary))
    emit(render_for(consultation, format_for(output) if output else "txt", audience), output)


def render_for(consultation, fmt: str, audience: str):
    """The client's handout or the consultant's record, in ``fmt``."""
    from haircare_expert.render.formats import render
    return render(consultation, fmt, audience)


@records.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the records here (JSON lines); without it they go to stdout.")
@db_option
def export(output, db):
    """Write every consultation as JSON lines: a backup, or a move to another database."""
    with open_store(db) as store:
        if output:
            from haircare_expert.atomic import atomic_writer
            with atomic_writer(output) as handle:
                count = store.export_jsonl(handle)
            click.echo(f"{count} consultation(s) written to {output}", err=True)
        else:
            store.export_jsonl(sys.stdout)


@records.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
def import_(file, db):
    """Add the consultations of an export (JSON lines); those already here are skipped."""
    from haircare_expert.errors import NotFoundError
    try:
        with open(file, encoding="utf-8", errors="strict") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as exc:
        from haircare_expert.errors import ProfileError
        raise ProfileError(file, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise NotFoundError(file, f"cannot read the file ({exc.strerror or exc})") from None
    with open_store(db) as store:
        added = store.import_jsonl(lines, where=file)
    total = sum(1 for line in lines if line.strip())
    click.echo(f"{added} consultation(s) imported" + (f", {total - added} already here" if total > added else ""))


@records.command("delete")
@click.option("--client", required=True, help="Erase every consultation of this client (any case).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
def delete(client, yes, db):
    """Erase every record of a client (a person's right to be forgotten)."""
    with open_store(db) as store:
        recs = store.list(client=client)
        if not recs:
            click.echo(f"No consultations of {_one_line(client)!r} in the records.")
            return
        if not yes:
            if not click.confirm(f"Erase all {len(recs)} consultation(s) of "
                                 f"{_one_line(recs[0].client)}? This cannot be undone"):
                click.echo("Nothing was erased.")
                return
        count = store.delete_client(client)
    click.echo(f"Erased {count} consultation(s) of {_one_line(client)}.")
