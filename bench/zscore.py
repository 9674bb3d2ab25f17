"""The z-score root-cause baseline of issue 10 (failure mode 7).

Rank services by the largest z-score of any of their metrics in the minutes after
the fault (``after_s``, 10 by default) against the hour before (``before_s``): for
each series, ``max |x - mean| / std`` over the samples after the fault, with the mean
and standard deviation of the samples before it. A series with fewer than two samples
before, or none after, scores nothing; a constant one that moves scores infinity. Ties
go by name, so a tie is no better than chance. It is told the true fault start, which
alertflow never is: a generous baseline.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# service -> series -> [(unix seconds, value)]
Series = Mapping[str, Mapping[str, Sequence[tuple[float, float]]]]


def series_z(points: Sequence[tuple[float, float]], fault_s: float, after_s: float,
             before_s: float) -> float:  # fmt: skip
    """The largest z-score of one series after the fault against the window before it."""
    before = [v for t, v in points if fault_s - before_s <= t < fault_s]
    after = [v for t, v in points if fault_s <= t < fault_s + after_s]
    if len(before) < 2 or not after:
        return 0.0
    mean = statistics.fmean(before)
    std = statistics.pstdev(before, mean)
    moved = max(abs(v - mean) for v in after)
    if std == 0.0:
        return math.inf if moved > 0 else 0.0
    return moved / std


def rank(series: Series, fault_s: float, after_s: float = 600.0,
         before_s: float = 3600.0) -> list[str]:  # fmt: skip
    """Every service, by its largest z-score of any metric: the likeliest cause first.

    >>> quiet = [(t, 1.0 + 0.1 * (t // 10 % 2)) for t in range(0, 100, 10)]
    >>> moved = [*quiet, (100.0, 5.0)]
    >>> rank({"db": {"lat": moved}, "api": {"lat": [*quiet, (100.0, 1.1)]}}, 100.0)
    ['db', 'api']
    """
    scores = {
        service: max((series_z(p, fault_s, after_s, before_s) for p in by.values()), default=0.0)
        for service, by in series.items()
    }
    return sorted(scores, key=lambda s: (-scores[s], s))


def read_simulated(path: Path) -> dict[str, dict[str, dict[str, list[tuple[float, float]]]]]:
    """The simulator's ``metrics.jsonl`` as cluster -> service -> series -> points."""
    from bench.correlation import parse_ts  # the bench's one timestamp parser

    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    stamps: dict[str, float] = {}
    with path.open() as fh:
        for line in fh:
            rec = json.loads(line)
            labels = rec["labels"]
            service = labels.get("service")
            if not service:
                continue
            ts = stamps.get(rec["timestamp"])
            if ts is None:
                ts = stamps[rec["timestamp"]] = parse_ts(rec["timestamp"])
            key = rec["name"] + json.dumps(labels, sort_keys=True)
            out[labels.get("cluster", "")][service][key].append((ts, float(rec["value"])))
    return out


def hits(ranked: Iterable[str], truth: str, k: int) -> bool:
    """Whether ``truth`` is among the first ``k``."""
    return truth in list(ranked)[:k]
