"""Opening a records database: its URL, the engine, the schema brought up to date, and one line
in words for anything that goes wrong.

:func:`connect` takes any SQLAlchemy URL (an embedded SQLite file by default, PostgreSQL for a
salon chain) and returns an engine; :func:`migrate` creates the database or brings its schema up
to date with the Alembic migrations shipped in ``migrations/`` (a SQLite file is copied to a
backup first). :func:`guard` turns every database failure (locked, read-only, full, unreachable,
a newer schema) into one :class:`~haircare_expert.errors.StoreError` line. The queries are in
:mod:`haircare_expert.store.repository`.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from haircare_expert.errors import HaircareError, StoreError

APP_NAME = "haircare-expert"
DB_FILE = "records.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: A PostgreSQL advisory-lock key, so two processes never migrate one database at once.
_MIGRATION_LOCK = 0x6861_6972


def default_url() -> str:
    """``$HAIRCARE_DB``, else a SQLite file in the user's data directory (platformdirs)."""
    env = os.environ.get("HAIRCARE_DB", "").strip()
    if env:
        return to_url(env)
    from platformdirs import user_data_dir
    return "sqlite:///" + str(Path(user_data_dir(APP_NAME, appauthor=False)) / DB_FILE)


def to_url(text: str) -> str:
    """A database URL as given, or a plain file path as a SQLite URL (``--db records.db``)."""
    if "://" in text:
        return text
    return "sqlite:///" + str(Path(text).expanduser().absolute())


# -- errors ---------------------------------------------------------------------------------------
def explain(exc: BaseException) -> str:
    """One line saying what went wrong with the database, in words."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    low = text.lower()
    if "locked" in low or "lock timeout" in low or "deadlock" in low or "busy" in low:
        return "the database is locked by another program; nothing was changed, try again in a moment"
    if "readonly" in low or "read-only" in low or "read only" in low:
        return "the database is read-only; nothing was changed"
    if "is full" in low or "disk full" in low or "no space left" in low or "could not extend" in low:
        return "the database or its disk is full; nothing was changed"
    if "not a database" in low or "malformed" in low:
        return "not a records database, or a damaged one"
    if "unable to open" in low:
        return "cannot open the database file (check the folder exists and is writable)"
    if ("could not connect" in low or "connection refused" in low or "no such host" in low
            or "connection failed" in low or "connection to server" in low or "connection is bad" in low):
        return f"cannot reach the database server ({text[:200]})"
    return text[:300]


@contextlib.contextmanager
def guard(where: str, doing: str) -> Iterator[None]:
    """Any database or file failure inside becomes one StoreError: ``where: doing: what``."""
    try:
        yield
    except HaircareError:
        raise
    except SQLAlchemyError as exc:
        raise StoreError(where, f"{doing}: {explain(exc)}") from None
    except sqlite3.Error as exc:
        raise StoreError(where, f"{doing}: {explain(exc)}") from None
    except OSError as exc:
        raise StoreError(where, f"{doing}: {exc.strerror or exc}") from None


# -- the engine -----------------------------------------------------------------------------------
def connect(url: str | None, timeout: float) -> tuple[Engine, str]:
    """An engine on the database at ``url`` (default: :func:`default_url`) and the place to name
    in errors (the URL without its password, or the SQLite file).

    ``timeout`` is how long to wait for a lock another writer holds before giving up.
    """
    text = to_url(url) if url else default_url()
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise StoreError(text, "not a database URL; give sqlite:///FILE, a file path, or "
                               "postgresql+psycopg://USER@HOST/DB") from None
    where = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, timeout)
        if parsed.get_backend_name() == "postgresql":
            return create_engine(parsed, pool_pre_ping=True, connect_args={
                "connect_timeout": max(1, int(timeout)),
                "options": f"-c lock_timeout={int(timeout * 1000)}"}), where
        return create_engine(parsed, pool_pre_ping=True), where
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(where, f"no driver for this database ({exc}); for PostgreSQL install "
                                "'haircare-expert[postgres]'") from None
    except SQLAlchemyError as exc:
        raise StoreError(where, explain(exc)) from None


def _sqlite_engine(url: URL, timeout: float) -> tuple[Engine, str]:
    """An engine on a SQLite file created owner-only, in WAL mode, with real transactions."""
    path = url.database or ""
    where = path or ":memory:"
    if path and path != ":memory:" and not url.query.get("uri"):
        file = Path(path).expanduser()
        where = str(file)
        try:
            if not file.exists():
                if not file.parent.exists():
                    file.parent.mkdir(parents=True, mode=0o700)
                fd = os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
            elif not file.is_file():
                raise StoreError(where, "not a database file (a folder or a device is in the way)")
        except FileExistsError:
            pass                                   # created by another process just now
        except OSError as exc:
            raise StoreError(where, f"cannot create the database ({exc.strerror or exc})") from None
    engine = create_engine(url, connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite begins transactions on its own, late and not for DDL; take that over
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA secure_delete=ON")
            with contextlib.suppress(sqlite3.Error):   # a read-only file keeps its mode
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine, where


# -- the schema -----------------------------------------------------------------------------------
def migrate(engine: Engine, where: str) -> None:
    """Create the schema or bring it up to the shipped head (backing a SQLite file up first);
    a schema newer than this release knows is a StoreError."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with guard(where, "opening the records"):
        with engine.connect() as probe:       # the common case: up to date, read only
            current = MigrationContext.configure(probe).get_current_revision()
        if current == head:
            return
        with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:                    # someone else migrated it meanwhile
                return
            if current is not None and current not in {s.revision for s in script.walk_revisions()}:
                raise StoreError(where, f"the records were written by a newer haircare-expert "
                                        f"(schema {current}; this one knows up to {head}); "
                                        "upgrade haircare-expert to open them")
            if current is not None and engine.dialect.name == "sqlite":
                backup(engine, f"before-{head}")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def backup(engine: Engine, label: str) -> Path | None:
    """Copy the SQLite file beside itself (a consistent copy, WAL included)."""
    path = engine.url.database
    if not path or path == ":memory:" or not Path(path).exists():
        return None
    target = Path(f"{path}.{label}.bak")
    source = sqlite3.connect(path)
    try:
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        os.close(fd)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target
