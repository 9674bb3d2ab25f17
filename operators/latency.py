"""A mergeable latency histogram with log-spaced buckets (0.01 ms to ~100 s)."""

import math
from dataclasses import dataclass, field

_BUCKETS_PER_DECADE = 20
_MIN_MS = 0.01
_N_BUCKETS = 7 * _BUCKETS_PER_DECADE + 1


@dataclass(slots=True)
class LatencyHistogram:
    """Counts per bucket; percentiles within one bucket's width (~12%).

    >>> h = LatencyHistogram()
    >>> for ms in (1.0, 2.0, 3.0, 100.0):
    ...     h.add_ms(ms)
    >>> h.count, round(h.percentile(50), 1)
    (4, 2.1)
    """

    counts: list[int] = field(default_factory=lambda: [0] * _N_BUCKETS)
    count: int = 0

    def add_ms(self, ms: float, n: int = 1) -> None:
        """Count one latency (or ``n`` equal ones), in milliseconds."""
        index = 0 if ms <= _MIN_MS else int(math.log10(ms / _MIN_MS) * _BUCKETS_PER_DECADE)
        self.counts[min(index, _N_BUCKETS - 1)] += n
        self.count += n

    def merge(self, other: "LatencyHistogram") -> None:
        """Add another histogram's counts to this one."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.count += other.count

    def percentile(self, q: float) -> float:
        """The q-th percentile in ms (bucket geometric midpoint)."""
        if not self.count:
            return math.nan
        rank = q / 100 * self.count
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank and n:
                return _MIN_MS * 10 ** ((index + 0.5) / _BUCKETS_PER_DECADE)
        return math.nan
