"""Reading stored anomalies and predictions: newest first, by cursor."""

from typing import Any, Literal

import sqlalchemy as sa
from alertflow.schemas import jsoncodec
from alertflow.store import tables as t
from alertflow.store.incidents import decode_cursor, encode_cursor

Kind = Literal["anomalies", "predictions"]
_TABLES = {"anomalies": t.anomalies, "predictions": t.predictions}


def list_records(
    engine: sa.Engine,
    kind: Kind,
    series: str | None = None,
    from_ns: int | None = None,
    to_ns: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Records with their time in [from_ns, to_ns), newest first, and the next page's cursor."""
    table = _TABLES[kind]
    c = table.c
    query = sa.select(c.ts_ns, c.id, c.doc).order_by(c.ts_ns.desc(), c.id.desc())
    if series is not None:
        query = query.where(c.series == series)
    if from_ns is not None:
        query = query.where(c.ts_ns >= from_ns)
    if to_ns is not None:
        query = query.where(c.ts_ns < to_ns)
    if cursor is not None:
        ts_ns, record_id = decode_cursor(cursor)
        query = query.where(sa.or_(c.ts_ns < ts_ns, sa.and_(c.ts_ns == ts_ns, c.id < record_id)))
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit + 1)).all()
    following = None
    if len(rows) > limit:
        following = encode_cursor(rows[limit - 1].ts_ns, rows[limit - 1].id)
    return [jsoncodec.loads(r.doc) for r in rows[:limit]], following


def get_records(engine: sa.Engine, kind: Kind, ids: list[str]) -> list[dict[str, Any]]:
    """The records with these ids (an incident's anomaly members), in no set order."""
    table = _TABLES[kind]
    with engine.connect() as conn:
        docs = conn.execute(sa.select(table.c.doc).where(table.c.id.in_(ids))).scalars()
        return [jsoncodec.loads(doc) for doc in docs]
