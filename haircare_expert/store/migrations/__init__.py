"""Alembic migrations of the records store, shipped in the package and applied on open."""
