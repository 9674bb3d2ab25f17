"""One poll's ``scores`` records of a shard, as rows: redacted and encoded a block at a time.

Every scored sample yields a ``scores`` record (``scoring.emit_scores``); as a dict in a
:class:`~alertflow.operators.decisions.Decision` each cost a dict, an object, a redaction
walk, an item per output step and an ``orjson`` call. A block keeps a row per record
(the sample, its score and band) and writes the records' JSON itself, with each series'
constant part (series, name, labels) encoded once. The bytes are those of
``Decision.encode`` on the record :meth:`ScoreBlock.decisions` builds (tests compare
them); consumers that need records one by one (tracing, the store, a redaction that
changes something) take :meth:`ScoreBlock.decisions` instead.
"""

from typing import Any

from alertflow.operators.decisions import Decision
from alertflow.operators.ids import sample_id
from alertflow.schemas.jsoncodec import dumps
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import format_ns

_CACHED = 65_536
# The record's fields in ARCHITECTURE.md's order; "series", "name", "labels" come from
# the series' cached part, "detectors" and "severity" from the tail's.
_LINE = ('{"id":"%s",%s%s","value":%s,"score":%s,"expected":%s,'
         '"lower":%s,"upper":%s,%s}')
# series key -> (name, labels as judged, '"series":..,"name":..,"labels":..,"ts":"')
_SERIES: dict[str, tuple[str, dict, str]] = {}
_TAILS: dict[tuple, str] = {}  # (detectors, severity) -> '"detectors":[..],"severity":".."'

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
            self._ts = [format_ns(row[2].ts_ns) for row in self.rows]
        return self._ts

    def decisions(self) -> list[Decision]:
        """The records as the decisions ``SeriesScorer`` builds one by one."""
        ts = self.timestamps()
        return [
            Decision("scores", row[1], _fields(row, stamp), (row[2].ref,), row[2].read_ns)
            for row, stamp in zip(self.rows, ts, strict=True)
        ]

    def lines(self) -> list[str]:
        """Each record's JSON text (what ``Decision.encode`` gives, decoded)."""
        rows = self.rows
        numbers = dumps([x for r in rows for x in (r[2].value, r[3], r[4], r[5], r[6])])
        n = numbers.decode()[1:-1].split(",")  # numbers and null: never a comma inside
        ts = self.timestamps()
        out = []
        for i, row in enumerate(rows):
            sample = row[2]
            j = 5 * i
            out.append(_LINE % (
                sample_id(row[0], sample.ts_ns), _series_part(row[1], sample), ts[i],
                n[j], n[j + 1], n[j + 2], n[j + 3], n[j + 4], _tail(row[7], row[8]),
            ))
        return out

    def encode(self) -> bytes:
        """The records' JSON lines, without the last newline (a sink adds one per item)."""
        return "\n".join(self.lines()).encode()

    def messages(self) -> list[tuple[bytes, bytes]]:
        """``(value, key)`` of each record, as the Kafka sink produces them."""
        return [
            (line.encode(), row[1].encode())
            for line, row in zip(self.lines(), self.rows, strict=True)
        ]


def _fields(row: Row, ts: str) -> dict[str, Any]:
    prefix, key, sample, score, expected, lower, upper, detectors, severity = row
    return {
        "id": sample_id(prefix, sample.ts_ns),
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


def _series_part(key: str, sample: MetricSample) -> str:
    """The series' constant fields as JSON text, encoded once while they stay equal."""
    name, labels = sample.name, sample.labels
    cached = _SERIES.get(key)
    if cached is not None and cached[0] == name and cached[1] == labels:
        return cached[2]
    # The dict's own encoding, braces off: byte for byte what the whole record's has.
    text = dumps({"series": key, "name": name, "labels": labels}).decode()[1:-1] + ',"ts":"'
    if all(type(v) is str for v in labels.values()):  # flat: a copy cannot go stale
        if len(_SERIES) >= _CACHED:
            _SERIES.clear()
        _SERIES[key] = (name, dict(labels), text)
    return text


def _tail(detectors: list[str], severity: str) -> str:
    key = (*detectors, severity)
    text = _TAILS.get(key)
    if text is None:
        text = dumps({"detectors": detectors, "severity": severity}).decode()[1:-1]
        if len(_TAILS) >= _CACHED:
            _TAILS.clear()
        _TAILS[key] = text
    return text


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
