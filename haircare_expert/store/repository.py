"""The records store: every query on the records database lives here, and nowhere else.

:meth:`Store.open` takes any SQLAlchemy URL (an embedded SQLite file by default, PostgreSQL for a
salon chain), creates the database or brings its schema up to date (both in
:mod:`haircare_expert.store.database`), and returns a :class:`Store`. Every method runs in one
transaction: it is committed whole or not at all.

Writes to one consultation carry the version the writer read (optimistic concurrency): a writer
holding a stale version gets :class:`~haircare_expert.errors.StoreConflictError` instead of
overwriting what another writer (a second terminal, the web app) saved meanwhile. Every database
failure (locked, read-only, full, unreachable, a newer schema) becomes one
:class:`~haircare_expert.errors.StoreError` line; nothing is left half-written.
"""
from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as DBSession

from haircare_expert.errors import NotFoundError, ProfileError, StoreConflictError
from haircare_expert.store import database
from haircare_expert.store.models import ConsultationRow, Setting

#: The schema of one line of ``records export``.
EXPORT_SCHEMA = "haircare-record/1"


# -- what the store hands out -------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """One stored consultation (a snapshot: writes return a new one with the next version)."""

    id: int
    client: str
    consultant: str
    date: str
    created: str                 #: ISO 8601, UTC
    updated: str
    finished: bool
    version: int
    session: dict                #: the interview Session as data (Session.to_data())
    record: dict | None          #: the JSON audit record when finished (None in list())
    kb_version: str
    kb_fingerprint: str
    targets: dict = field(default_factory=dict)  #: save/output/session files to write at the end
    follows: int | None = None   #: the visit this one follows up
    uid: str = ""                #: stable across export/import

    @property
    def answers(self) -> int:
        """How many questions were answered so far."""
        asked = (self.session.get("interview") or {}).get("asked") or []
        return len(asked) if isinstance(asked, list) else 0


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:       # SQLite keeps no zone: every stored time is UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _key(client: str) -> str:
    return " ".join(client.split()).casefold()


def _record(row: ConsultationRow, full: bool = True) -> Record:
    return Record(id=row.id, client=row.client, consultant=row.consultant, date=row.date,
                  created=_iso(row.created), updated=_iso(row.updated), finished=row.finished,
                  version=row.version, session=dict(row.session or {}),
                  record=(row.record if full else None), kb_version=row.kb_version,
                  kb_fingerprint=row.kb_fingerprint, targets=dict(row.targets or {}),
                  follows=row.follows, uid=row.uid)


def _client_block(session_data: dict) -> dict:
    profile = session_data.get("profile") if isinstance(session_data, dict) else None
    client = profile.get("client") if isinstance(profile, dict) else None
    return client if isinstance(client, dict) else {}


class Store:
    """The records database; open it with :meth:`open`, close it with :meth:`close`."""

    def __init__(self, engine: Engine, where: str):
        self.engine = engine
        self.where = where

    @classmethod
    def open(cls, url: str | None = None, timeout: float = 10.0) -> Store:
        """Open (creating or migrating as needed) the database at ``url`` (default:
        :func:`~haircare_expert.store.database.default_url`).

        ``timeout`` is how long to wait for a lock another writer holds before giving up.
        """
        engine, where = database.connect(url, timeout)
        try:
            database.migrate(engine, where)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, where)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _guard(self, doing: str) -> contextlib.AbstractContextManager[None]:
        return database.guard(self.where, doing)

    @contextlib.contextmanager
    def _tx(self, doing: str, write: bool = False) -> Iterator[DBSession]:
        """One transaction (SQLite: BEGIN IMMEDIATE for writes, so it waits for the lock up front)."""
        with self._guard(doing):
            bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if write else self.engine
            with DBSession(bind, expire_on_commit=False) as db, db.begin():
                yield db

    # -- consultations -------------------------------------------------------------------------
    def start(self, client: str = "", consultant: str = "", date: str = "", rules_dirs=(),
              targets: dict | None = None, follows: int | None = None,
              session: dict | None = None) -> Record:
        """Begin a consultation (unfinished, version 1) and return it."""
        now = _now()
        given = _client_block(session or {})   # the answers' client block fills what is not given
        client = client or str(given.get("name") or "")
        consultant = consultant or str(given.get("consultant") or "")
        date = date or str(given.get("date") or "")
        targets = dict(targets or {})
        targets.setdefault("rules", [str(d) for d in rules_dirs])
        row = ConsultationRow(uid=uuid.uuid4().hex, client=client, client_key=_key(client),
                              consultant=consultant, date=date, created=now, updated=now,
                              finished=False, version=1, session=dict(session or {}), record=None,
                              kb_version="", kb_fingerprint="", targets=targets, follows=follows)
        with self._tx("starting a consultation", write=True) as db:
            if follows is not None and db.get(ConsultationRow, follows) is None:
                raise NotFoundError(f"record {follows}", "no such consultation to follow up")
            db.add(row)
            db.flush()
            return _record(row)

    def get(self, record_id: int) -> Record:
        """The consultation with this id; :class:`NotFoundError` if there is none."""
        with self._tx("reading a consultation") as db:
            row = db.get(ConsultationRow, int(record_id))
            if row is None:
                raise NotFoundError(f"record {record_id}", "no such consultation in the records "
                                                           "(see 'haircare records list')")
            return _record(row)

    def _write(self, record_id: int, version: int, doing: str, **values: Any) -> Record:
        values["updated"] = _now()
        values["version"] = version + 1
        with self._tx(doing, write=True) as db:
            done = db.execute(update(ConsultationRow)
                              .where(ConsultationRow.id == record_id, ConsultationRow.version == version)
                              .values(**values))
            if done.rowcount != 1:
                current = db.get(ConsultationRow, record_id)
                if current is None:
                    raise NotFoundError(f"record {record_id}", "no such consultation in the records "
                                                               "(deleted meanwhile?)")
                raise StoreConflictError(f"record {record_id}", (
                    f"changed elsewhere meanwhile (it is at version {current.version}, this copy "
                    f"read version {version}); reload it and try again"))
            return _record(db.get(ConsultationRow, record_id, populate_existing=True))

    def save_answers(self, record_id: int, session_data: dict, version: int,
                     targets: dict | None = None) -> Record:
        """Commit the interview state now; a stale ``version`` is a :class:`StoreConflictError`.

        The client, consultant and date columns follow the answers' client block.
        """
        client = _client_block(session_data)
        values: dict[str, Any] = {"session": session_data,
                                  "client": str(client.get("name") or ""),
                                  "client_key": _key(str(client.get("name") or "")),
                                  "consultant": str(client.get("consultant") or ""),
                                  "date": str(client.get("date") or "")}
        if targets is not None:
            values["targets"] = dict(targets)
        return self._write(record_id, version, "saving the answers", **values)

    def finish(self, record_id: int, session_data: dict, consultation, version: int) -> Record:
        """Store the finished consultation: its audit record (JSON), the plan, the KB version."""
        record = consultation.to_json() if hasattr(consultation, "to_json") else dict(consultation)
        kb = record.get("knowledge_base") or {}
        client = _client_block(session_data) or record.get("client") or {}
        return self._write(record_id, version, "saving the finished consultation",
                           session=session_data, record=record, finished=True,
                           kb_version=str(kb.get("version") or ""),
                           kb_fingerprint=str(kb.get("fingerprint") or ""),
                           client=str(client.get("name") or ""),
                           client_key=_key(str(client.get("name") or "")),
                           consultant=str(client.get("consultant") or ""),
                           date=str(client.get("date") or ""))

    def list(self, client: str | None = None, unfinished: bool = False) -> list[Record]:
        """Consultations, newest first (summaries: ``record`` is None; :meth:`get` has it all)."""
        query = select(ConsultationRow).order_by(ConsultationRow.created.desc(), ConsultationRow.id.desc())
        if client is not None:
            query = query.where(ConsultationRow.client_key == _key(client))
        if unfinished:
            query = query.where(ConsultationRow.finished.is_(False))
        from sqlalchemy.orm import defer
        query = query.options(defer(ConsultationRow.record))
        with self._tx("listing the records") as db:
            return [_record(row, full=False) for row in db.scalars(query)]

    def count(self, finished: bool | None = None) -> int:
        query = select(func.count(ConsultationRow.id))
        if finished is not None:
            query = query.where(ConsultationRow.finished.is_(finished))
        with self._tx("counting the records") as db:
            return int(db.scalar(query) or 0)

    def iter_finished(self, batch: int = 500) -> Iterator[Record]:
        """Every finished consultation with its audit record, oldest first, read in batches."""
        last = 0
        while True:
            query = (select(ConsultationRow)
                     .where(ConsultationRow.finished.is_(True), ConsultationRow.id > last)
                     .order_by(ConsultationRow.id).limit(batch))
            with self._tx("reading the records") as db:
                rows = [_record(row) for row in db.scalars(query)]
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def search_clients(self, text: str) -> list[str]:
        """Client names containing ``text`` (any case), each once, sorted."""
        query = (select(ConsultationRow.client)
                 .where(ConsultationRow.client_key.contains(_key(text), autoescape=True),
                        ConsultationRow.client != "")
                 .distinct())
        with self._tx("searching the clients") as db:
            return sorted(set(db.scalars(query)), key=str.casefold)

    def last_visit(self, client: str, before: int | None = None) -> Record | None:
        """The client's last finished consultation (by date, then time), or None.

        ``before``: a consultation id; only visits started before that one count.
        """
        query = (select(ConsultationRow)
                 .where(ConsultationRow.client_key == _key(client), ConsultationRow.finished.is_(True))
                 .order_by(ConsultationRow.date.desc(), ConsultationRow.created.desc(),
                           ConsultationRow.id.desc())
                 .limit(1))
        with self._tx("reading the last visit") as db:
            if before is not None:
                limit = db.get(ConsultationRow, int(before))
                query = query.where(ConsultationRow.id != int(before))
                if limit is not None:
                    query = query.where(ConsultationRow.created <= limit.created)
            row = db.scalars(query).first()
            return _record(row) if row is not None else None

    def delete_client(self, client: str) -> int:
        """Erase every consultation of ``client`` (any case); return how many were erased.

        On SQLite the freed pages are overwritten (secure_delete) and the log is checkpointed,
        so the erased answers do not linger in the file.
        """
        key = _key(client)
        with self._tx("erasing the client's records", write=True) as db:
            ids = list(db.scalars(select(ConsultationRow.id).where(ConsultationRow.client_key == key)))
            if ids:
                db.execute(update(ConsultationRow).where(ConsultationRow.follows.in_(ids))
                           .values(follows=None))
                db.execute(delete(ConsultationRow).where(ConsultationRow.id.in_(ids)))
        if ids and self.is_sqlite:
            with self._guard("erasing the client's records"), self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(ids)

    # -- settings --------------------------------------------------------------------------------
    def setting(self, key: str, default: str = "") -> str:
        with self._tx("reading a setting") as db:
            row = db.get(Setting, key)
            return row.value if row is not None else default

    def set_setting(self, key: str, value: str) -> None:
        with self._tx("saving a setting", write=True) as db:
            row = db.get(Setting, key)
            if row is None:
                db.add(Setting(key=key, value=value))
            else:
                row.value = value

    # -- export and import -----------------------------------------------------------------------
    def export_jsonl(self, stream: IO[str]) -> int:
        """Write every consultation as one JSON line (oldest first); return how many."""
        count, last = 0, 0
        uids: dict[int, str] = {}
        while True:
            query = (select(ConsultationRow).where(ConsultationRow.id > last)
                     .order_by(ConsultationRow.id).limit(500))
            with self._tx("reading the records") as db:
                rows = list(db.scalars(query))
                if rows and any(r.follows is not None and r.follows not in uids for r in rows):
                    wanted = {r.follows for r in rows if r.follows is not None} - set(uids)
                    for rid, uid in db.execute(select(ConsultationRow.id, ConsultationRow.uid)
                                               .where(ConsultationRow.id.in_(wanted))):
                        uids[rid] = uid
            if not rows:
                return count
            for row in rows:
                uids[row.id] = row.uid
                rec = _record(row)
                line = {"schema": EXPORT_SCHEMA, "uid": rec.uid, "client": rec.client,
                        "consultant": rec.consultant, "date": rec.date, "created": rec.created,
                        "updated": rec.updated, "finished": rec.finished, "version": rec.version,
                        "session": rec.session, "record": rec.record, "kb_version": rec.kb_version,
                        "kb_fingerprint": rec.kb_fingerprint, "targets": rec.targets,
                        "follows": uids.get(rec.follows) if rec.follows is not None else None}
                stream.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
            last = rows[-1].id

    def import_jsonl(self, stream: Iterable[str], where: str = "import") -> int:
        """Add the consultations of an export; those already here (same uid) are skipped.

        Every line is checked first: a bad one is a ProfileError with ``where:line`` and nothing
        is imported. Returns how many were added.
        """
        rows = [_import_line(text, f"{where}:{number}")
                for number, text in enumerate(stream, 1) if text.strip()]
        added = 0
        with self._tx("importing the records", write=True) as db:
            known = set()
            uids = [r["uid"] for r in rows]
            for start in range(0, len(uids), 500):
                known |= set(db.scalars(select(ConsultationRow.uid)
                                        .where(ConsultationRow.uid.in_(uids[start:start + 500]))))
            fresh = [r for r in rows if r["uid"] not in known]
            follows = {r["uid"]: r.pop("follows") for r in rows}
            for start in range(0, len(fresh), 1000):
                db.execute(insert(ConsultationRow), fresh[start:start + 1000])
            added = len(fresh)
            linked = {u: f for u, f in follows.items() if f and u not in known}
            if linked:
                wanted = set(linked) | set(linked.values())
                ids = {}
                for part in _chunks(sorted(wanted), 500):
                    ids.update(dict(db.execute(select(ConsultationRow.uid, ConsultationRow.id)
                                               .where(ConsultationRow.uid.in_(part))).all()))
                for uid, target in linked.items():
                    if target in ids:
                        db.execute(update(ConsultationRow).where(ConsultationRow.id == ids[uid])
                                   .values(follows=ids[target]))
        return added


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _import_line(text: str, where: str) -> dict:
    """One export line checked and turned into column values."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProfileError(where, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != EXPORT_SCHEMA:
        raise ProfileError(where, f"not a haircare record (expected 'schema': {EXPORT_SCHEMA!r}); "
                                  "write one with 'haircare records export'")
    kinds = {"uid": str, "client": str, "consultant": str, "date": str, "created": str,
             "updated": str, "finished": bool, "version": int, "session": dict,
             "kb_version": str, "kb_fingerprint": str, "targets": dict}
    for name, kind in kinds.items():
        value = data.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ProfileError(where, f"{name!r} is missing or not a {kind.__name__}")
    if not (1 <= len(data["uid"]) <= 32) or len(data["client"]) > 200 or len(data["consultant"]) > 200 \
            or len(data["date"]) > 10:
        raise ProfileError(where, "uid, client, consultant or date is too long")
    if data.get("record") is not None and not isinstance(data["record"], dict):
        raise ProfileError(where, "'record' must be an audit record (a JSON object) or null")
    if data["finished"] and data.get("record") is None:
        raise ProfileError(where, "a finished consultation needs its audit record")
    if data.get("follows") is not None and not isinstance(data["follows"], str):
        raise ProfileError(where, "'follows' must be the uid of another record or null")
    try:
        created, updated = _parse_time(data["created"]), _parse_time(data["updated"])
    except ValueError:
        raise ProfileError(where, "'created' and 'updated' must be times like "
                                  "2026-11-29T09:00:00.000000Z") from None
    return {"uid": data["uid"], "client": data["client"], "client_key": _key(data["client"]),
            "consultant": data["consultant"], "date": data["date"], "created": created,
            "updated": updated, "finished": data["finished"], "version": data["version"],
            "session": data["session"], "record": data.get("record"),
            "kb_version": data["kb_version"], "kb_fingerprint": data["kb_fingerprint"],
            "targets": data["targets"], "follows": data.get("follows")}
