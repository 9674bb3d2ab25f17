"""``alertflow detect``: score a NAB-style ``timestamp,value`` CSV in one streaming pass.

Timestamps without a zone (NAB's ``YYYY-mm-dd HH:MM:SS``) are taken as UTC; ones with a
zone are converted to UTC. The detector's daily profile therefore follows the UTC time
of day. Rows are read in chunks and each chunk is scored by one ``update_many`` call, so
memory stays bounded and the per-row cost is parsing and printing, not Python calls into
the model.
"""

import csv
import math
import sys
import warnings
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import TextIO

import numpy as np
from alertflow.operators.anomaly.compiled import CompiledDetector
from alertflow.operators.anomaly.factory import detector_factory
from alertflow.schemas.config import AlertflowConfig, ConfigError

CHUNK_ROWS = 1 << 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def detect_csv(path: Path, config: AlertflowConfig, out: TextIO | None = None) -> int:
    """Print ``timestamp,value,anomaly_score``; each score is computed before learning the point.

    Rows whose value is not a finite number keep their place with an empty score and do
    not reach the model, so the output lines up with the input. Scores have 6 decimals.
    Returns the number of rows scored.
    """
    out = out or sys.stdout
    detector = detector_factory(config.scoring.detector)()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    scored = 0
    with handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            raise ConfigError(f"{path}: expected a header 'timestamp,value', got {header}")
        out.write("timestamp,value,anomaly_score\n")
        line = 2
        while chunk := list(islice(rows, CHUNK_ROWS)):
            try:
                scored += _score_chunk(chunk, detector, out)
            except _BadRow as bad:
                raise ConfigError(f"{path}:{line + bad.index}: {bad}") from None
            line += len(chunk)
    return scored


class _BadRow(ValueError):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _score_chunk(chunk: list[list[str]], detector: CompiledDetector, out: TextIO) -> int:
    """Score one chunk of rows in one ``update_many`` call and print it."""
    if min(map(len, chunk)) < 2:
        index = next(i for i, row in enumerate(chunk) if len(row) < 2)
        raise _BadRow(index, f"expected 'timestamp,value', got {chunk[index]}")
    values = _values([row[1] for row in chunk])
    finite = np.isfinite(values)
    flags = finite.tolist()
    everything = all(flags)
    kept = chunk if everything else [row for row, ok in zip(chunk, flags, strict=True) if ok]
    try:
        ts_ns = _timestamps([row[0] for row in kept])
    except ValueError as exc:
        stamp = exc.args[0]
        index = next(i for i, row in enumerate(chunk) if row[0] == stamp)
        raise _BadRow(
            index,
            "expected an ISO 8601 timestamp such as 2014-04-01 00:00:00 "
            f"(UTC unless it names a zone), got {stamp!r}",
        ) from None
    scores = detector.update_many(values if everything else values[finite], ts_ns).tolist()
    if everything:
        lines = [f"{row[0]},{row[1]},{s:.6f}\n" for row, s in zip(chunk, scores, strict=True)]
    else:
        it = iter(scores)
        lines = [
            f"{row[0]},{row[1]},{next(it):.6f}\n" if ok else f"{row[0]},{row[1]},\n"
            for row, ok in zip(chunk, flags, strict=True)
        ]
    out.write("".join(lines))
    return len(scores)


def _values(texts: list[str]) -> np.ndarray:
    try:
        return np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:
        return np.array([_number(text) for text in texts])


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _timestamps(stamps: list[str]) -> np.ndarray:
    """Epoch nanoseconds of ISO 8601 timestamps; naive ones are UTC.

    Raises ValueError carrying the first timestamp that is not one.
    """
    # numpy parses plain ISO timestamps ~50x faster than datetime, but it also reads
    # "now" and "NaT" and only warns about zones: those go the slow, strict way.
    if all(stamp[:1].isdigit() for stamp in stamps):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                parsed = np.array(stamps, dtype="datetime64[ns]")
            except (ValueError, UserWarning, DeprecationWarning):
                pass
            else:
                return parsed.view(np.int64)
    return np.array([_timestamp(stamp) for stamp in stamps], dtype=np.int64)


def _timestamp(stamp: str) -> int:
    try:
        moment = datetime.fromisoformat(stamp.strip())
    except ValueError:
        raise ValueError(stamp) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000
