"""A mergeable quantile sketch for latencies: log-spaced buckets, DDSketch's scheme.

A positive value ``x`` is counted in bucket ``ceil(log(x) / log(gamma))`` with
``gamma = (1 + alpha) / (1 - alpha)``; a bucket's value is reported as
``2 * gamma ** i / (gamma + 1)``, which lies within relative error ``alpha`` of
every value the bucket holds. So any quantile answered is within ``alpha`` (1%
by default) of the exact rank-``floor(q * (n - 1))`` value of the input, as long
as no buckets were collapsed; values at or below ``min_value`` (1 µs for
seconds) share one bucket and read as 0. Merging adds bucket counts, so it is
exact, associative and commutative: sketches of windows or workers combine
into the sketch of their union.

State is bounded by ``max_buckets``: past it the lowest buckets fold into
one, which only coarsens the smallest values (tail latencies stay exact to
``alpha``). With the defaults 1 µs to 1 hour fit in about 1,100 buckets;
a window of real latencies uses a few dozen.

Numbers: Masson, Rim and Lee, "DDSketch: A Fast and Fully-Mergeable Quantile
Sketch with Relative-Error Guarantees", VLDB 2019; this is its unbounded
logarithmic mapping with the collapsing-lowest store.
"""

import math

from alertflow.schemas.errors import AlertflowError


class SketchError(AlertflowError, ValueError):
    """Sketch settings out of range, or sketches that cannot merge."""


class QuantileSketch:
    """Counts of values in log-spaced buckets; quantiles within relative error ``alpha``.

    >>> s = QuantileSketch()
    >>> for ms in range(1, 101):
    ...     s.add(ms / 1000)
    >>> round(s.quantile(0.5), 4), round(s.quantile(0.99), 4), s.count
    (0.0503, 0.0992, 100)
    """

    __slots__ = ("_inv_log_gamma", "alpha", "buckets", "count", "gamma", "max_buckets", "min_value",
                 "zeros")  # fmt: skip

    def __init__(
        self, alpha: float = 0.01, max_buckets: int = 2048, min_value: float = 1e-6
    ) -> None:
        if not 0 < alpha < 1 or max_buckets < 2 or min_value <= 0:
            raise SketchError("alpha must be in (0, 1), max_buckets >= 2, min_value > 0")
        self.alpha = alpha
        self.max_buckets = max_buckets
        self.min_value = min_value
        self.gamma = (1 + alpha) / (1 - alpha)
        self._inv_log_gamma = 1.0 / math.log(self.gamma)
        self.buckets: dict[int, int] = {}
        self.zeros = 0  # values at or below min_value
        self.count = 0

    def add(self, value: float, weight: int = 1) -> None:
        """Count ``value`` (``weight`` times); NaN and negative values count as 0."""
        self.count += weight
        if not value > self.min_value:  # also NaN
            self.zeros += weight
            return
        index = math.ceil(math.log(value) * self._inv_log_gamma)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + weight
        if len(buckets) > self.max_buckets:
            self._collapse()

    def merge(self, other: "QuantileSketch") -> None:
        """Add ``other``'s counts to this sketch (both must have the same ``alpha``)."""
        if other.gamma != self.gamma or other.min_value != self.min_value:
            raise SketchError("cannot merge sketches with different alpha or min_value")
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.zeros += other.zeros
        self.count += other.count
        if len(self.buckets) > self.max_buckets:
            self._collapse()

    def quantile(self, q: float) -> float:
        """The value at rank ``floor(q * (count - 1))``, within ``alpha``; NaN when empty."""
        if self.count == 0:
            return math.nan
        rank = math.floor(min(max(q, 0.0), 1.0) * (self.count - 1))
        seen = self.zeros
        if rank < seen:
            return 0.0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return 2.0 * self.gamma**index / (self.gamma + 1.0)
        return 2.0 * self.gamma ** max(self.buckets) / (self.gamma + 1.0)  # pragma: no cover

    def _collapse(self) -> None:
        """Fold the lowest buckets into one so at most ``max_buckets`` remain."""
        order = sorted(self.buckets)
        extra = len(order) - self.max_buckets
        keep = order[extra]
        self.buckets[keep] += sum(self.buckets.pop(i) for i in order[:extra])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return (
            self.gamma == other.gamma
            and self.count == other.count
            and self.zeros == other.zeros
            and self.buckets == other.buckets
        )

    __hash__ = None  # type: ignore[assignment]  # mutable
