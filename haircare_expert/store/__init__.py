"""The records store: every consultation kept, finished or not, in a real database.

``Store.open(url)`` opens (creating or migrating) the database: a SQLite file in the user's
data directory by default, any SQLAlchemy URL with ``--db URL`` / ``$HAIRCARE_DB``.
:mod:`~haircare_expert.store.database` opens the database and applies the Alembic
``migrations/``; :mod:`~haircare_expert.store.repository` owns every query;
:mod:`~haircare_expert.store.models` holds the typed models;
:mod:`~haircare_expert.store.replay` replays the whole store after a rule edit.
"""
from haircare_expert.store.database import default_url, to_url
from haircare_expert.store.repository import EXPORT_SCHEMA, Record, Store

__all__ = ["Store", "Record", "default_url", "to_url", "EXPORT_SCHEMA"]
