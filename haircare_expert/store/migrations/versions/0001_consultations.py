"""The consultations table: one row per consultation, finished or not.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("client_key", sa.String(200), nullable=False),
        sa.Column("consultant", sa.String(200), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("session", sa.JSON, nullable=False),
        sa.Column("record", sa.JSON, nullable=True),
        sa.Column("kb_version", sa.String(100), nullable=False),
        sa.Column("kb_fingerprint", sa.String(100), nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("follows", sa.Integer, sa.ForeignKey("consultations.id", ondelete="SET NULL"),
                  nullable=True),
    )
    op.create_index("ix_consultations_client_key", "consultations", ["client_key"])
    op.create_index("ix_consultations_finished", "consultations", ["finished"])


def downgrade() -> None:
    op.drop_table("consultations")
