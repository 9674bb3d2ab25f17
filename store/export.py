"""Exports of incidents, anomalies and predictions as JSON Lines, CSV or Parquet, streamed.

Rows are read in keyset-paged batches (never the whole range at once) and written
as they come, so a range of millions of anomalies takes one batch of memory.
Nested fields (labels, members, root causes) become JSON text in CSV and Parquet.
"""

import csv
import io
from collections.abc import Iterator
from typing import IO, Any

import sqlalchemy as sa
from alertflow.schemas import jsoncodec
from alertflow.schemas.outputs import Anomaly, Incident
from alertflow.store import tables as t
from alertflow.store.engine import StoreError
from alertflow.store.export_kinds import WHATS, Format, What
from alertflow.store.incidents import current_state

BATCH = 5000

_OPERATOR_FIELDS = {
    "acknowledged_at": "string", "acknowledged_by": "string",
    "operator_resolved_at": "string", "operator_resolved_by": "string",
}
_PREDICTION_FIELDS = {"id": "string", "series": "string", "ts": "string", "record": "json"}


def columns(what: What) -> dict[str, str]:
    """The export's columns and their kind: string, int64, double or json.

    >>> list(columns("predictions"))
    ['id', 'series', 'ts', 'record']
    """
    if what == "predictions":
        return dict(_PREDICTION_FIELDS)
    model = Incident if what == "incidents" else Anomaly
    kinds = {name: _kind(info.annotation) for name, info in model.model_fields.items()}
    return kinds | _OPERATOR_FIELDS if what == "incidents" else kinds


def _kind(annotation: Any) -> str:
    simple = {int: "int64", float: "double", str: "string", str | None: "string",
              float | None: "double", int | None: "int64"}
    return simple.get(annotation, "json")


def batches(
    engine: sa.Engine, what: What, from_ns: int, to_ns: int, size: int = BATCH
) -> Iterator[list[dict[str, Any]]]:
    """Records of ``what`` with their time in [from_ns, to_ns), oldest first, in batches."""
    if what not in WHATS:
        raise StoreError(f"export: unknown {what!r}; expected one of {', '.join(WHATS)}")
    table, time_col, key_col = {
        "incidents": (t.incidents, "opened_ns", "incident_id"),
        "anomalies": (t.anomalies, "ts_ns", "id"),
        "predictions": (t.predictions, "ts_ns", "id"),
    }[what]
    tc, kc = table.c[time_col], table.c[key_col]
    after: tuple[int, str] | None = None
    while True:
        query = sa.select(table).where(tc >= from_ns, tc < to_ns).order_by(tc, kc).limit(size)
        if after is not None:
            query = query.where(sa.or_(tc > after[0], sa.and_(tc == after[0], kc > after[1])))
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            return
        yield [_record(what, row) for row in rows]
        after = (rows[-1][time_col], rows[-1][key_col])


def _record(what: str, row: Any) -> dict[str, Any]:
    if what == "incidents":
        return current_state(row)
    doc = jsoncodec.loads(row["doc"])
    if what == "predictions":
        return {"id": row["id"], "series": row["series"], "ts": doc.get("ts"), "record": doc}
    return doc


def write(
    out: IO[bytes], what: What, fmt: Format, chunks: Iterator[list[dict[str, Any]]]
) -> int:
    """Write the batches to ``out`` in ``fmt``; returns the records written."""
    counted = _Counted(chunks)
    if fmt == "parquet":
        _write_parquet(out, columns(what), counted)
    else:
        for part in encode(what, fmt, counted):
            out.write(part)
    return counted.count


def encode(what: What, fmt: Format, chunks: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    """JSON Lines or CSV, one piece per batch (Parquet needs a file: see :func:`write`)."""
    if fmt == "json":
        for chunk in chunks:
            yield b"".join(jsoncodec.dumps(r) + b"\n" for r in chunk)
    elif fmt == "csv":
        cols = columns(what)
        yield _csv_rows([{c: c for c in cols}], cols)  # the header
        for chunk in chunks:
            yield _csv_rows([_flat(r, cols) for r in chunk], cols)
    else:
        raise StoreError(f"export: {fmt!r} cannot stream; expected json or csv")


class _Counted:
    def __init__(self, chunks: Iterator[list[dict[str, Any]]]) -> None:
        self.chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for chunk in self.chunks:
            self.count += len(chunk)
            yield chunk


def _flat(record: dict[str, Any], cols: dict[str, str]) -> dict[str, Any]:
    return {
        name: jsoncodec.dumps(record.get(name)).decode() if kind == "json" else record.get(name)
        for name, kind in cols.items()
    }


def _csv_rows(rows: list[dict[str, Any]], cols: dict[str, str]) -> bytes:
    text = io.StringIO()
    csv.DictWriter(text, fieldnames=list(cols), lineterminator="\n").writerows(rows)
    return text.getvalue().encode()


def _write_parquet(out: IO[bytes], cols: dict[str, str], chunks: _Counted) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "int64": pa.int64(), "double": pa.float64(),
             "json": pa.string()}
    schema = pa.schema([(name, types[kind]) for name, kind in cols.items()])
    with pq.ParquetWriter(out, schema) as writer:  # one row group per batch
        for chunk in chunks:
            flat = [_flat(r, cols) for r in chunk]
            writer.write_table(pa.Table.from_pylist(flat, schema=schema))
