"""A consultant's working day on the command line: client after client in one folder, quit and resume,
follow-up visits, the records commands, replaying the store after a rule edit, and database errors as one line."""
from __future__ import annotations

import json
import sqlite3

import pytest
import yaml
from click.testing import CliRunner
from test_store import edited_rule_folder, record_lines

from haircare_expert.cli import main
from haircare_expert.consult.interview import Interview, Session
from haircare_expert.errors import ExitCode
from haircare_expert.store import Store

UNKNOWNS = "unknown\n" * 40


def run(*args, input: str = ""):
    return CliRunner().invoke(main, [*map(str, args)], input=input)


def records_json(*args) -> list[dict]:
    result = run("records", "list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_two_clients_one_after_the_other_in_one_folder_both_succeed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = run("interview", "--date", "2026-11-22", input="Ana Example\nSam Adviser\nflaking\n" + UNKNOWNS)
    second = run("interview", "--date", "2026-11-22", input="Bea Client\n" + "oily\n" + UNKNOWNS)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "Saved in the records as consultation 1." in first.stdout
    listed = records_json()
    assert [(r["client"], r["consultant"], r["finished"]) for r in listed] == [
        ("Bea Client", "Sam Adviser", True),         # the consultant's name was remembered
        ("Ana Example", "Sam Adviser", True)]
    assert list(tmp_path.iterdir()) == []            # nothing left in the folder to refuse the next


def test_quit_and_resume_by_id_writes_the_report_and_a_complete_profile(tmp_path):
    profile, report = tmp_path / "p.yaml", tmp_path / "r.json"
    first = run("interview", "--date", "2026-11-22", "--save", profile, "-o", report,
                input="Ana\nSam\nflaking, itching\nq\n")
    assert first.exit_code == 0 and "continue with: haircare interview --resume 1" in first.stdout
    assert not report.exists()
    listing = run("interview", "--resume")
    assert listing.exit_code == 0 and "unfinished, 4 answer(s)" in listing.stdout
    resumed = run("interview", "--resume", "1", input=UNKNOWNS)       # --save and -o remembered
    assert resumed.exit_code == 0, resumed.output
    assert f"Report written to {report}" in resumed.stdout and f"Profile saved to {profile}" in resumed.stdout
    saved = yaml.safe_load(profile.read_text())
    assert saved["client"] == {"name": "Ana", "consultant": "Sam", "date": "2026-11-22"}
    assert saved["scalp"] == {"symptoms": ["flaking", "itching"]}
    assert {"hair", "goals", "habits"} <= set(saved)                      # every section answered
    with Store.open() as store:
        record = store.get(1)
    assert record.finished and record.session["profile"] == saved
    advised = run("advise", profile, "--format", "json")
    assert advised.exit_code == 0 and advised.stdout == report.read_text()
    assert run("interview", "--resume").stdout.strip() == "No unfinished consultations."
    shown = run("records", "show", "1", "-o", tmp_path / "again.json")
    assert shown.exit_code == 0 and (tmp_path / "again.json").read_text() == report.read_text()


def test_an_unfinished_record_shows_its_answers_and_how_to_resume(tmp_path):
    run("interview", "--date", "2026-11-22", input="Ana\nSam\nflaking\nquit\n")
    shown = run("records", "show", "1")
    assert shown.exit_code == 0 and "haircare interview --resume 1" in shown.stdout
    assert yaml.safe_load(shown.stdout.split("Answers so far:\n", 1)[1])["scalp"] == {"symptoms": ["flaking"]}
    missing = run("records", "show", "7")
    assert missing.exit_code == ExitCode.NOT_FOUND and missing.stderr.startswith("Error: record 7: ")


def test_a_follow_up_visit_says_the_flaking_has_gone(tmp_path):
    first = run("interview", "--date", "2026-11-22", input="Ana\nSam\nflaking\nshampoo\n" + UNKNOWNS)
    assert first.exit_code == 0, first.output
    with Store.open() as store:
        last = store.last_visit("ana")
        from haircare_expert.cli.base import advisor
        sections = [name for name, _ in Interview(advisor(), Session.from_data(
            last.session, "last", advisor().vocabulary)).review_sections()]
    assert sections[0] == "scalp"
    report = tmp_path / "visit2.txt"
    keep = "yes\n" * (len(sections) - 1)
    second = run("interview", "--client", "ANA", "--date", "2026-12-20", "-o", report,
                 input="change\n" + keep + "none\n" + UNKNOWNS)
    assert second.exit_code == 0, second.output
    assert "Scalp:\n  Scalp: flaking" in second.stdout and "Still the same?" in second.stdout
    since = second.stdout.split("Since the last visit (2026-11-22):", 1)[1]
    assert "gone: flakes" in since.splitlines()[1]
    handout = " ".join(report.read_text().split())      # the client's handout says so too
    assert "SINCE YOUR LAST VISIT (2026-11-22)" in handout and "Gone since then: flakes" in handout
    shown = run("records", "show", "2")                  # and so does the stored visit, later
    assert shown.exit_code == 0 and "Gone since then: flakes" in shown.stdout
    record = run("records", "show", "2", "--for", "consultant")
    assert record.exit_code == 0 and "sha256:" in record.stdout      # the audit appendix
    listed = records_json("--client", "ana")
    assert [(r["id"], r["follows"], r["date"]) for r in listed] == [(2, 1, "2026-12-20"), (1, None, "2026-11-22")]
    with Store.open() as store:
        profile = store.get(2).session["profile"]
    assert profile["scalp"] == {"symptoms": []} and profile["routine"][0]["product"] == "shampoo"
    unknown = run("interview", "--client", "Nobody", input="")
    assert unknown.exit_code == ExitCode.PROFILE and "no finished consultation" in unknown.stderr


def test_export_import_and_erasing_a_client(tmp_path):
    run("interview", "--date", "2026-11-22", input="Ana\nSam\nflaking\nquit\n")
    run("interview", "--date", "2026-11-22", input="Bea\n" + UNKNOWNS)
    backup = tmp_path / "backup.jsonl"
    exported = run("records", "export", "-o", backup)
    assert exported.exit_code == 0 and "2 consultation(s) written" in exported.stderr
    moved = f"sqlite:///{tmp_path / 'moved.sqlite3'}"
    imported = run("records", "import", backup, "--db", moved)
    assert imported.exit_code == 0 and "2 consultation(s) imported" in imported.stdout
    again = run("records", "import", backup, "--db", moved)
    assert "0 consultation(s) imported, 2 already here" in again.stdout
    assert [r["client"] for r in records_json("--db", moved)] == ["Bea", "Ana"]

    kept = run("records", "delete", "--client", "bea", input="n\n")
    assert kept.exit_code == 0 and "Nothing was erased." in kept.stdout and len(records_json()) == 2
    erased = run("records", "delete", "--client", "bea", input="y\n")
    assert erased.exit_code == 0 and "Erased 1 consultation(s)" in erased.stdout
    assert [r["client"] for r in records_json()] == ["Ana"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(backup.read_text().splitlines()[0] + "\n{oops\n")
    refused = run("records", "import", bad)
    assert refused.exit_code == ExitCode.PROFILE and refused.stderr.startswith(f"Error: {bad}:2: ")


def test_replay_all_reports_no_change_then_exactly_what_a_rule_edit_changes(tmp_path, advisor):
    lines = record_lines(advisor, 36)
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    assert run("records", "import", tmp_path / "records.jsonl").exit_code == 0
    same = run("replay", "--all")
    assert same.exit_code == 0, same.output
    assert "Replayed 36 stored consultation(s)" in same.stdout and "Replayed 36 of 36" in same.stderr
    assert "No consultation would get different advice." in same.stdout

    fired = {}
    for line in lines:
        rec = json.loads(line)
        for item in rec["record"]["advice"]:
            fired.setdefault(item["rule"], set()).add(rec["client"])
    rule_id = next(r for r, clients in sorted(fired.items()) if 0 < len(clients) < 36
                   and advisor.rulebook.by_id[r].kind == "recommendation"
                   and "{" not in advisor.rulebook.by_id[r].advise)
    folder = edited_rule_folder(tmp_path, advisor.rulebook, rule_id)
    changed = run("replay", "--all", "--rules", folder, "--format", "json")
    assert changed.exit_code == ExitCode.CHANGED, changed.output
    data = json.loads(changed.stdout)
    assert [g["rule"] for g in data["groups"]] == [rule_id]
    assert {r["client"] for r in data["records"]} == fired[rule_id]
    parallel = run("replay", "--all", "--rules", folder, "--format", "json", "--jobs", "2")
    assert parallel.exit_code == ExitCode.CHANGED and json.loads(parallel.stdout) == data
    both = run("replay", "x.json", "--all")
    assert both.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("setup, what", [
    (lambda p: p.mkdir(), "not a database file"),
    (lambda p: p.write_text("plain text, not a database " * 50), "not a records database"),
])
def test_a_database_that_cannot_be_used_is_one_error_line(tmp_path, setup, what):
    path = tmp_path / "r.sqlite3"
    setup(path)
    for args in (["records", "list"], ["interview"], ["replay", "--all"]):
        result = run(*args, "--db", path, input="Ana\n")
        assert result.exit_code == ExitCode.STORE, (args, result.output)
        assert result.stderr.count("\n") == 1 and what in result.stderr and "Traceback" not in result.output


def test_a_database_from_a_newer_haircare_is_refused(tmp_path):
    path = tmp_path / "r.sqlite3"
    assert run("records", "list", "--db", path).exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    result = run("records", "list", "--db", path)
    assert result.exit_code == ExitCode.STORE and "newer haircare-expert" in result.stderr
