"""haircare explain | trace | replay: why each line was given, and what changed."""
from __future__ import annotations

import click

from haircare_expert.cli.base import advisor, emit, format_option, main, rules_option
from haircare_expert.cli.records import db_option, open_store
from haircare_expert.errors import ExitCode

# -- audit: haircare explain | trace | replay ---------------------------------------------------
AUDIT_FORMAT = format_option("text", "json")


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
    from haircare_expert.audit.explain import explain as explain_rule
    from haircare_expert.audit.explain import render_text
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
    from haircare_expert.audit import trace as tracing
    adv = advisor(rules_dirs)
    consultation = adv.consult_file(profile)
    if fmt == "json":
        emit(_dump(tracing.to_json(consultation, adv.rulebook)), None)
    else:
        emit(tracing.render_text(consultation, adv.rulebook), None)


@main.command()
@click.argument("record", required=False, type=click.Path(dir_okay=False))
@click.option("--all", "all_records", is_flag=True,
              help="Replay every finished consultation in the records database instead.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="With --all: replay in this many processes.")
@click.option("--scheduler", metavar="ADDRESS",
              help="With --all: replay on this Dask cluster (e.g. tcp://host:8786) instead.")
@AUDIT_FORMAT
@rules_option
@db_option
def replay(record, all_records, jobs, scheduler, fmt, rules_dirs, db):
    """Re-run an audit RECORD (the JSON of 'advise --format json') against the current rules.

    Prints the advice added, removed or changed and the rule edits behind each change. With
    --all, replays every stored consultation and lists those whose advice would change,
    grouped by the rule edit that causes it. Exit code 0: no change; 1: the advice changed.
    """
    if all_records == bool(record):
        raise click.UsageError("give a RECORD file or --all (every stored consultation), not both"
                               if record else "give a RECORD file, or --all to replay the records")
    if scheduler and not all_records:
        raise click.UsageError("--scheduler goes with --all")
    if all_records:
        changed = _replay_store(fmt, rules_dirs, db, jobs, scheduler)
    else:
        from haircare_expert.audit.replay import load_record, render_text
        from haircare_expert.audit.replay import replay as replay_record
        result = replay_record(load_record(record), advisor(rules_dirs), where=str(record))
        emit(_dump(result.to_json()) if fmt == "json" else render_text(result), None)
        changed = result.changed
    if changed:
        click.get_current_context().exit(int(ExitCode.CHANGED))


def _replay_store(fmt, rules_dirs, db, jobs, scheduler=None) -> bool:
    """``replay --all``: every finished consultation in the store; progress on stderr."""
    import sys

    from haircare_expert.store.replay import render_text, replay_all
    tty = sys.stderr.isatty()
    shown = {"step": 0}

    def progress(done: int, total: int) -> None:
        if tty:
            click.echo(f"\rReplayed {done} of {total}", err=True, nl=done >= total)
        elif total and (done * 10 // total > shown["step"] or done >= total):
            shown["step"] = done * 10 // total
            click.echo(f"Replayed {done} of {total}", err=True)

    adv = advisor(rules_dirs)
    with open_store(db) as store:
        result = replay_all(store, adv, jobs=jobs, rules_dirs=rules_dirs, scheduler=scheduler,
                            progress=progress)
    emit(_dump(result.to_json()) if fmt == "json" else render_text(result), None)
    return result.changed
