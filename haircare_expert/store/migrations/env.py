"""Alembic environment of the records store: runs on the connection the store opened."""
from alembic import context

from haircare_expert.store.models import Base

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters tables by copying them, which batch mode does for us
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
