"""Alembic's entry: runs on the connection the store hands in (``config.attributes``)."""

from alembic import context
from alertflow.store.tables import metadata


def run_migrations() -> None:
    """Migrate on the caller's connection, inside its transaction."""
    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=metadata,
        # SQLite alters tables by copying them: batch mode makes one migration fit both engines.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# Only when Alembic runs this file (pytest's doctest collection imports it too).
if getattr(context, "config", None) is not None:
    run_migrations()
