"""One poll's ``scores`` records of a shard, as rows: redacted and encoded a block at a time.

Every scored sample yields a ``scores`` record (``scoring.emit_scores``); as a dict in a
:class:`~alertflow.operators.decisions.Decision` each cost a dict, an object, a redaction
walk, an item per output step and an ``orjson`` call. A block keeps a row per record
(the sample, its score and band) and encodes its records' dicts in one loop; the bytes
are those of ``Decision.encode`` on the record :meth:`ScoreBlock.decisions` builds
(tests compare them). Consumers that need records one by one (tracing, the
store, a redaction that changes something) take :meth:`ScoreBlock.decisions` instead.
"""

from typing import Any

from alertflow.operators.decisions import Decision
from alertflow.operators.ids import TIME_HALVES, sample_id
from alertflow.schemas.jsoncodec import dumps_each
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import STAMPS, stamp_ns

# A row: (id prefix, series key, sample, score, expected, lower, upper, detectors, severity)
Row = tuple[str, str, MetricSample, float, float, float, float, list[str], str]


class ScoreBlock:
    """The ``scores`` records of one shard's poll, in arrival order.

    Stands in a batch of decisions where one ``scores`` decision per row would:
    ``stream`` and ``key`` read like a decision's, so steps that pick decisions by
    stream pass it by.
    """

    __slots__ = ("_ts", "rows")
    stream = "scores"
    key = ""
    inputs: tuple[str, ...] = ()
    traceparent = None

    def __init__(self, rows: list[Row] | None = None) -> None:
        self.rows: list[Row] = [] if rows is None else rows
        self._ts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> list[Row]:
        return self.rows

    def __setstate__(self, rows: list[Row]) -> None:
        self.rows = rows
        self._ts = None

    def read_ns(self) -> list[int]:
        """When each record's sample was read (0: unknown)."""
        return [row[2].read_ns for row in self.rows]

    def timestamps(self) -> list[str]:
        """Each record's ``ts`` text (formatted once, for redaction and encoding)."""
        if self._ts is None:
            stamps = STAMPS  # a scrape's samples share their timestamp: formatted once
            self._ts = [stamps.get(r[2].ts_ns) or stamp_ns(r[2].ts_ns) for r in self.rows]
        return self._ts

    def decisions(self) -> list[Decision]:
        """The records as the decisions ``SeriesScorer`` builds one by one."""
        rows = self.rows
        return [
            Decision("scores", row[1], fields, (row[2].ref,), row[2].read_ns)
            for row, fields in zip(rows, records(rows, self.timestamps()), strict=True)
        ]

    def encode(self) -> bytes:
        """The records' JSON lines, without the last newline (a sink adds one per item)."""
        return b"\n".join(self._values())

    def messages(self) -> list[tuple[bytes, bytes]]:
        """``(value, key)`` of each record, as the Kafka sink produces them."""
        rows = self.rows
        return [(value, row[1].encode()) for value, row in zip(self._values(), rows, strict=True)]

    def _values(self) -> list[bytes]:
        # Each record's bytes are those of its own Decision.encode: one orjson call per
        # record, no Decision. (One call for the block, then finding the records in its
        # text, cost more: three scans of every byte, ~3,600 instructions per record.)
        return dumps_each(records(self.rows, self.timestamps()))


def record_fields(row: Row, ts: str) -> dict[str, Any]:
    """A ``scores`` or ``anomalies`` record's fields: one place for the scorer and the block."""
    return records([row], [ts])[0]


def records(rows: list[Row], stamps: list[str]) -> list[dict[str, Any]]:
    """The fields of each row's record, its ``ts`` text given (:func:`record_fields`).

    One dict literal in one loop, no call per row but a new timestamp's id half: a block
    encodes every scored sample's record through here.
    """
    halves = TIME_HALVES
    return [
        {
            "id": prefix + (halves.get(sample.ts_ns) or sample_id("", sample.ts_ns)),
            "series": key,
            "name": sample.name,
            "labels": sample.labels,
            "ts": ts,
            "value": sample.value,
            "score": score,
            "expected": expected,
            "lower": lower,
            "upper": upper,
            "detectors": detectors,
            "severity": severity,
        }
        for (prefix, key, sample, score, expected, lower, upper, detectors, severity), ts
        in zip(rows, stamps, strict=True)
    ]


def expand(items: list) -> list:
    """``items`` with every block replaced by its decisions (the same list when none)."""
    if not any(type(item) is ScoreBlock for item in items):
        return items
    out: list = []
    for item in items:
        if type(item) is ScoreBlock:
            out.extend(item.decisions())
        else:
            out.append(item)
    return out
