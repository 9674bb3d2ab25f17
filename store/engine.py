"""Opening the store: SQLite (embedded default) or PostgreSQL (psycopg 3), migrated at start."""

from pathlib import Path

import sqlalchemy as sa
from alertflow.schemas.errors import AlertflowError
from alertflow.store import migrate


class StoreError(AlertflowError):
    """The store cannot be opened or a request to it is invalid."""


DEFAULT_URL = "sqlite:///alertflow.db"


def engine_url(url: str) -> str:
    """Map the URLs users write to SQLAlchemy's: ``postgresql://`` means psycopg 3.

    >>> engine_url("postgresql://u@localhost/db")
    'postgresql+psycopg://u@localhost/db'
    >>> engine_url("sqlite:///data/alertflow.db")
    'sqlite:///data/alertflow.db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise StoreError(f"store {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DB")


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL so the API reads while the flow writes."""
    full = engine_url(url)
    if full.startswith("sqlite"):
        path = sa.make_url(full).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            full, connect_args={"check_same_thread": False, "timeout": 30}
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(full, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL makes NORMAL durable against crashes of the process (not of the machine): enough for
    # outputs that a replay re-emits with the same ids.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_store(url: str = DEFAULT_URL) -> sa.Engine:
    """Open (creating if needed) and migrate the store at ``url``."""
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"store {url!r} cannot be opened: {exc.orig}") from None
    return engine
