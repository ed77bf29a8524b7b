"""The records database as SQLAlchemy 2 typed models: one row per consultation, a few settings.

Only :mod:`haircare_expert.store.repository` queries these; the schema itself is created and
changed by the Alembic migrations in ``migrations/versions`` (never by ``create_all``), so an
existing database is always brought to the shape these classes describe.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The declarative base of the records schema."""


class ConsultationRow(Base):
    """One consultation, finished or not: the interview state, and the audit record when done."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: A stable id that survives export and import into another database.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    client: Mapped[str] = mapped_column(String(200))
    #: The client's name folded for lookups ("ana example" finds "Ana Example").
    client_key: Mapped[str] = mapped_column(String(200), index=True)
    consultant: Mapped[str] = mapped_column(String(200), default="")
    date: Mapped[str] = mapped_column(String(10), default="")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    #: Optimistic concurrency: every write says which version it read; a stale one is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    session: Mapped[dict] = mapped_column(JSON)
    record: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    kb_version: Mapped[str] = mapped_column(String(100), default="")
    kb_fingerprint: Mapped[str] = mapped_column(String(100), default="")
    targets: Mapped[dict] = mapped_column(JSON)
    follows: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("consultations.id", ondelete="SET NULL"), nullable=True)


class Setting(Base):
    """A remembered value (the consultant's name on this installation)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
