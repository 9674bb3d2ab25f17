"""Alembic's entry: runs on the connection the store hands in (``config.attributes``)."""

from alembic import context
from alertflow.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them: batch mode makes one migration fit both engines.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
