"""The records store keeps every consultation safely: on SQLite and (when CI provides one) PostgreSQL,
with version checks, migrations, clean one-line errors, export/import, erasure and replay of the whole store."""
from __future__ import annotations

import copy
import io
import json
import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from haircare_expert.consult.advisor import Advisor
from haircare_expert.errors import (
    ExitCode,
    NotFoundError,
    ProfileError,
    StoreConflictError,
    StoreError,
)
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.store import EXPORT_SCHEMA, Store
from haircare_expert.store.replay import render_text, replay_all

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "facts" / "examples").glob("*.yaml"))
POSTGRES = os.environ.get("HAIRCARE_TEST_POSTGRES", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new database on the CI's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite3'}"
        return
    if not POSTGRES:
        pytest.skip("no PostgreSQL server: set HAIRCARE_TEST_POSTGRES to a SQLAlchemy URL "
                    "(.ci/run starts a throw-away cluster and sets it)")
    name = f"haircare_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def store(db_url):
    with Store.open(db_url, timeout=2) as opened:
        yield opened


def session_data(name="Ana Example", consultant="Sam", date="2026-11-22", scalp=("flaking",),
                 asked=None, finished=False) -> dict:
    profile = {"client": {"name": name, "consultant": consultant, "date": date},
               "scalp": {"symptoms": list(scalp)}}
    return {"schema": "haircare-interview/1", "profile": profile,
            "interview": {"finished": finished, "asked": asked or ["client.name", "client.consultant",
                                                                   "client.date", "scalp.symptoms"]}}


def finish(store, rec, advisor, profile: dict):
    data = {"schema": "haircare-interview/1", "profile": profile,
            "interview": {"finished": True, "asked": []}}
    return store.finish(rec.id, data, advisor.consult(profile), version=rec.version)


# -- consultations ------------------------------------------------------------------------------
def test_a_consultation_is_kept_from_the_first_answer_to_the_audit_record(store, advisor):
    rec = store.start(consultant="Sam", date="2026-11-22", targets={"save": "p.yaml", "output": None})
    assert (rec.version, rec.finished, rec.targets["save"]) == (1, False, "p.yaml")
    rec = store.save_answers(rec.id, session_data(), version=rec.version)
    assert (rec.version, rec.client, rec.consultant, rec.date, rec.answers) == (2, "Ana Example", "Sam", "2026-11-22", 4)
    profile = session_data()["profile"]
    done = finish(store, rec, advisor, profile)
    again = store.get(rec.id)
    assert again == done and again.finished and again.version == 3
    assert again.record == json.loads(json.dumps(advisor.consult(profile).to_json()))
    assert again.kb_fingerprint == advisor.rulebook.fingerprint and again.kb_version == advisor.rulebook.version
    with pytest.raises(NotFoundError):
        store.get(rec.id + 100)


def test_a_stale_write_is_refused_not_lost(db_url):
    """Two writers (a terminal and the web app) read version 1; the second to write is told, and
    the first one's answers stay."""
    with Store.open(db_url) as terminal, Store.open(db_url) as web:
        rec = terminal.start()
        seen = web.get(rec.id)
        terminal.save_answers(rec.id, session_data(name="From the terminal"), version=rec.version)
        with pytest.raises(StoreConflictError) as info:
            web.save_answers(seen.id, session_data(name="From the browser"), version=seen.version)
        assert info.value.exit_code == ExitCode.CONFLICT and "changed elsewhere" in str(info.value)
        assert terminal.get(rec.id).client == "From the terminal"


def test_lists_are_newest_first_and_filter_by_client_in_any_case(store, advisor):
    first = store.start()
    store.save_answers(first.id, session_data(name="Ana Example"), version=1)
    second = store.start()
    store.save_answers(second.id, session_data(name="Bea"), version=1)
    third = store.start()
    rec = store.save_answers(third.id, session_data(name="ana  example", date="2026-12-01"), version=1)
    finish(store, rec, advisor, session_data(name="ana  example", date="2026-12-01")["profile"])
    assert [r.id for r in store.list()] == [third.id, second.id, first.id]
    assert [r.id for r in store.list(client="ANA EXAMPLE")] == [third.id, first.id]
    assert [r.id for r in store.list(unfinished=True)] == [second.id, first.id]
    assert store.list()[0].record is None                      # summaries; get() has it all
    assert set(store.search_clients("ex")) == {"Ana Example", "ana  example"}
    assert store.search_clients("%") == []                     # wildcards are literal
    assert store.last_visit("Ana Example").id == third.id
    assert store.last_visit("Ana Example", before=third.id) is None
    assert store.last_visit("Nobody") is None


def test_deleting_a_client_erases_every_record_of_theirs_and_nothing_else(store, advisor):
    ana = store.start()
    rec = store.save_answers(ana.id, session_data(name="Ana"), version=1)
    finish(store, rec, advisor, session_data(name="Ana")["profile"])
    follow = store.start(follows=ana.id)
    store.save_answers(follow.id, session_data(name="Ana"), version=1)
    bea = store.start()
    store.save_answers(bea.id, session_data(name="Bea"), version=1)
    assert store.delete_client("ana") == 2
    assert [r.client for r in store.list()] == ["Bea"]
    assert store.delete_client("ana") == 0
    if store.is_sqlite:     # the erased answers do not linger in the file's free pages
        assert b"Ana" not in Path(store.engine.url.database).read_bytes()


def test_the_consultants_name_is_remembered(store):
    assert store.setting("consultant") == ""
    store.set_setting("consultant", "Sam")
    store.set_setting("consultant", "Kim")
    assert store.setting("consultant") == "Kim"


# -- export and import -------------------------------------------------------------------------
def test_export_and_import_move_every_record_and_the_visit_links(store, advisor, tmp_path):
    first = store.start()
    rec = store.save_answers(first.id, session_data(name="Ana"), version=1)
    finish(store, rec, advisor, session_data(name="Ana")["profile"])
    store.start(follows=first.id, session=session_data(name="Ana"))
    out = io.StringIO()
    assert store.export_jsonl(out) == 2
    with Store.open(f"sqlite:///{tmp_path / 'moved.sqlite3'}") as moved:
        moved.start()                                        # ids differ in the new home
        assert moved.import_jsonl(io.StringIO(out.getvalue())) == 2
        assert moved.import_jsonl(io.StringIO(out.getvalue())) == 0      # already there
        recs = {r.uid: r for r in moved.list()}
        old = {r.uid: r for r in store.list()}
        for uid, before in old.items():
            after = recs[uid]
            assert (after.client, after.finished, after.session, after.created) == \
                   (before.client, before.finished, before.session, before.created)
        linked = next(r for r in recs.values() if r.follows is not None)
        assert moved.get(linked.follows).uid == store.get(first.id).uid


@pytest.mark.parametrize("line, what", [
    ("not json", "not JSON"),
    ('{"schema": "other"}', "not a haircare record"),
    (json.dumps({"schema": EXPORT_SCHEMA, "uid": "a", "client": "A", "consultant": "", "date": "",
                 "created": "2026-11-22T09:00:00.000000Z", "updated": "2026-11-22T09:00:00.000000Z",
                 "finished": "yes", "version": 1, "session": {}, "kb_version": "",
                 "kb_fingerprint": "", "targets": {}}), "'finished' is missing or not a bool"),
])
def test_a_bad_import_line_names_its_line_and_imports_nothing(store, line, what):
    out = io.StringIO()
    store.start(session=session_data())
    store.export_jsonl(out)
    store.delete_client("Ana Example")
    good = out.getvalue()
    with pytest.raises(ProfileError) as info:
        store.import_jsonl(io.StringIO(good + line + "\n"), where="backup.jsonl")
    assert info.value.where == "backup.jsonl:2" and what in info.value.what
    assert store.list() == []


# -- schema and database failures --------------------------------------------------------------
def test_a_database_from_a_newer_version_is_refused_with_one_line(db_url):
    Store.open(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError) as info:
        Store.open(db_url)
    assert info.value.exit_code == ExitCode.STORE
    assert "newer haircare-expert" in info.value.what and "\n" not in str(info.value)


def test_an_older_database_is_migrated_and_a_sqlite_file_backed_up_first(db_url):
    from alembic import command
    from alembic.config import Config

    from haircare_expert.store.database import MIGRATIONS
    engine = create_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:              # a database as the first release left it
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text(
            "INSERT INTO consultations (uid, client, client_key, consultant, date, created, updated, "
            "finished, version, session, record, kb_version, kb_fingerprint, targets) VALUES "
            "('u1', 'Ana', 'ana', 'Sam', '', :t, :t, false, 1, '{}', NULL, '', '', '{}')"),
            {"t": "2026-11-22 09:00:00"})
    engine.dispose()
    with Store.open(db_url) as store:
        assert [r.client for r in store.list()] == ["Ana"]
        store.set_setting("consultant", "Sam")           # the table the second migration adds
        if store.is_sqlite:
            backup = Path(store.engine.url.database + ".before-0002.bak")
            assert stat.S_IMODE(backup.stat().st_mode) == 0o600
            copy_ = sqlite3.connect(backup)
            assert copy_.execute("SELECT client FROM consultations").fetchall() == [("Ana",)]
            assert copy_.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
            copy_.close()


def test_a_new_sqlite_database_is_private_and_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("HAIRCARE_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    from haircare_expert.store import default_url
    url = default_url()
    assert url == f"sqlite:///{tmp_path / 'data' / 'haircare-expert' / 'records.sqlite3'}"
    with Store.open() as store:
        store.start()
        path = Path(store.engine.url.database)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_locked_sqlite_database_is_one_error_and_changes_nothing(tmp_path):
    path = tmp_path / "r.sqlite3"
    with Store.open(str(path), timeout=0.2) as store:
        rec = store.start(session=session_data())
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError) as info:
                store.save_answers(rec.id, session_data(name="Lost?"), version=rec.version)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert info.value.exit_code == ExitCode.STORE and "locked by another program" in info.value.what
        assert store.get(rec.id) == rec


def test_a_read_only_sqlite_database_is_one_error(tmp_path):
    path = tmp_path / "r.sqlite3"
    with Store.open(str(path)) as store:
        store.start(session=session_data())
    with Store.open(f"sqlite:///file:{path}?mode=ro&uri=true") as store:
        assert [r.client for r in store.list()] == ["Ana Example"]
        with pytest.raises(StoreError) as info:
            store.start()
    assert "read-only" in info.value.what and info.value.exit_code == ExitCode.STORE


def test_a_full_sqlite_database_is_one_error_and_keeps_the_last_answers(tmp_path):
    path = tmp_path / "r.sqlite3"
    with Store.open(str(path)) as store:
        rec = store.start(session=session_data())
        with store.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        event.listen(store.engine, "connect",
                     lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count={pages + 1}"))
        store.engine.dispose()                        # reconnect with the disk "full"
        big = session_data(name="x" * 150)
        big["profile"]["notes"] = "y" * 200_000
        with pytest.raises(StoreError) as info:
            store.save_answers(rec.id, big, version=rec.version)
        assert "full" in info.value.what
        assert store.get(rec.id) == rec


@pytest.mark.parametrize("make, what", [
    (lambda p: p.write_bytes(b"this is not a database at all" * 100), "not a records database"),
    (lambda p: p.mkdir(), "not a database file"),
])
def test_something_else_at_the_database_path_is_one_error(tmp_path, make, what):
    path = tmp_path / "r.sqlite3"
    make(path)
    with pytest.raises(StoreError) as info:
        Store.open(str(path))
    assert what in info.value.what and info.value.exit_code == ExitCode.STORE


def test_an_unreachable_server_is_one_error():
    with pytest.raises(StoreError) as info:
        Store.open("postgresql+psycopg://nobody@/records?host=/nonexistent-socket-dir", timeout=1)
    assert "\n" not in str(info.value) and info.value.exit_code == ExitCode.STORE
    assert "cannot reach the database server" in info.value.what
    with pytest.raises(StoreError) as info:
        Store.open("nosuchdb://x/y")
    assert "no driver for this database" in info.value.what


# -- replaying the whole store -----------------------------------------------------------------
def record_lines(advisor: Advisor, count: int) -> list[str]:
    """``count`` export lines of finished consultations, from the example profiles with the washes
    a week varied (so the inputs differ), made from one consultation per distinct input."""
    bases = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLES]
    made: dict = {}
    lines = []
    for i in range(count):
        profile = copy.deepcopy(bases[i % len(bases)])
        week = (i // len(bases)) % 3
        profile["client"] = {"name": f"Client {i}", "consultant": "Sam", "date": "2026-11-22"}
        profile.setdefault("habits", {})["washes_per_week"] = week
        key = (i % len(bases), week)
        if key not in made:
            made[key] = advisor.consult(profile).to_json()
        record = copy.deepcopy(made[key])
        record["client"] = dict(profile["client"])
        lines.append(json.dumps({
            "schema": EXPORT_SCHEMA, "uid": uuid.uuid4().hex, "client": profile["client"]["name"],
            "consultant": "Sam", "date": "2026-11-22", "created": "2026-11-22T09:00:00.000000Z",
            "updated": "2026-11-22T09:00:00.000000Z", "finished": True, "version": 2,
            "session": {"schema": "haircare-interview/1", "profile": profile,
                        "interview": {"finished": True, "asked": []}},
            "record": record, "kb_version": record["knowledge_base"]["version"],
            "kb_fingerprint": record["knowledge_base"]["fingerprint"], "targets": {}, "follows": None}))
    return lines


def edited_rule_folder(tmp_path, rulebook: Rulebook, rule_id: str) -> Path:
    """A rule folder that replaces one shipped rule with its text reworded."""
    raw = json.loads(json.dumps(rulebook.by_id[rule_id].raw, default=str))
    raw["then"]["advise"] = raw["then"]["advise"] + " Ask us about it at your next visit."
    folder = tmp_path / "edited"
    folder.mkdir()
    (folder / "edit.yaml").write_text(yaml.safe_dump({"rules": [raw]}, sort_keys=False), encoding="utf-8")
    return folder


def test_replaying_the_store_finds_exactly_the_consultations_a_rule_edit_changes(store, advisor, tmp_path):
    lines = record_lines(advisor, 120)
    assert store.import_jsonl(lines) == 120
    same = replay_all(store, advisor)
    assert (same.total, same.changed, same.errors) == (120, False, [])
    assert "No consultation would get different advice." in render_text(same)

    records = [json.loads(line) for line in lines]
    fired = {}
    for rec in records:
        for item in rec["record"]["advice"]:
            if item["kind"] == "recommendation":
                fired.setdefault(item["rule"], set()).add(rec["client"])
    rule_id = next(r for r, clients in sorted(fired.items()) if 0 < len(clients) < len(records) // 2
                   and "{" not in advisor.rulebook.by_id[r].advise)
    edited = Advisor(Rulebook.load([edited_rule_folder(tmp_path, advisor.rulebook, rule_id)]))
    seen = []
    result = replay_all(store, edited, progress=lambda done, total: seen.append((done, total)))
    assert {c.client for c in result.changes} == fired[rule_id]
    assert list(result.groups()) == [rule_id] and result.rule_changes == {rule_id: "edited"}
    assert all((c.changed, c.added, c.removed) == (1, 0, 0) for c in result.changes)
    assert seen[-1] == (120, 120)
    text_ = render_text(result)
    assert f"Rule {rule_id} (edited): {len(fired[rule_id])} consultation(s)" in text_
    assert json.loads(json.dumps(result.to_json()))["groups"][0]["records"] == [c.id for c in result.changes]
