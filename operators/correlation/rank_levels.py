"""What changed at an incident's start against each series' own last hour (issue 10, mode 7).

The z-score baseline of issue 10 ranks services by how far any of their metrics moved
in the minutes after the fault against the hour before. Anomaly evidence misses what
that sees: a detector learns a slow ramp (a memory leak) and never flags it, and a
service with no anomaly at all is not in the incident. A :class:`LevelBook` keeps, per
series, a small ring of 5-minute sums (:class:`LevelRing`: ``slots`` buckets of count,
sum and sum of squares, 45 doubles, 544 bytes), enough to compare the mean after any
start in the last hour with the mean and spread of the hour before it.

Ranking (``correlation.rootcause``, its rules in ``correlation.rootcause_levels``) reads
:meth:`LevelBook.series_changes` at the incident's start: the service that moved most,
far more than the first place did, takes first place; dependencies of the incident's
services that moved strongly at its start are ranked after its members, or first when
one moved more than every member, where the baseline would see them and anomaly
evidence did not. Series the engine derives from sampled traces are not kept: an absent
trace window is missing, not zero.
"""

import math
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from alertflow.operators.correlation.alert_dedup import service_of
from alertflow.operators.correlation.rank_moves import RankWeights
from alertflow.schemas.timefmt import NS_PER_S

# Series the engine derives from sampled traces (operators.red_metrics) are named so.
DERIVED_PREFIX = "alertflow_"
# A constant series that moves is infinitely changed; this keeps it comparable and finite.
CHANGE_CAP = 1000.0
# The hour before a start needs this many samples for a spread.
_MIN_BEFORE = 4
# Incident starts whose settled changes a book remembers (see LevelBook.changes).
_MEMO_STARTS = 256
BEFORE_S, AFTER_S = 3600.0, 600.0
LEVEL_BUCKET_S = 300.0  # what scoring sends (LevelBook's default bucket)


class LevelSignal(NamedTuple):
    """One series' closed bucket on its way from scoring to correlation (the ``levels`` stream).

    ``bucket`` is the bucket's number (event time // ``bucket_s``); ``n``, ``total`` and
    ``squares`` its samples' count, sum and sum of squares. A tuple: scoring makes one per
    series every bucket, and a frozen dataclass costs five times as much to build.
    """

    series: str
    labels: dict[str, str]
    bucket: int
    bucket_s: float
    n: float
    total: float
    squares: float

    @property
    def ts_ns(self) -> int:
        """The bucket's end: when it closed, in event time."""
        return (self.bucket + 1) * int(self.bucket_s * NS_PER_S)

    @property
    def fingerprint(self) -> str:
        """The order key's tie-break: the series."""
        return "level:" + self.series


class LevelRing:
    """One series' last ``slots`` buckets of ``bucket_s``: count, sum, sum of squares.

    One array of ``3 * slots`` doubles (counts, then sums, then squares): 360 bytes of
    data for 15 slots, 544 bytes with the objects (``sys.getsizeof``).
    """

    __slots__ = ("bucket_ns", "head", "slots", "stats")

    def __init__(self, bucket_s: float = 300.0, slots: int = 15) -> None:
        self.bucket_ns = int(bucket_s * NS_PER_S)
        self.slots = slots
        self.head = -1  # the newest bucket's number (ts // bucket_ns); -1 before any sample
        self.stats = array("d", bytes(8 * 3 * slots))

    def add(self, ts_ns: int, value: float) -> None:
        """Count a sample; one older than the ring or not finite is dropped."""
        if not math.isfinite(value):
            return
        i = self._slot(ts_ns // self.bucket_ns)
        if i is None:
            return
        slots, stats = self.slots, self.stats
        stats[i] += 1.0
        stats[slots + i] += value
        stats[2 * slots + i] += value * value

    def _slot(self, bucket: int) -> int | None:
        """The bucket's slot, the ones it moves past cleared; None when older than the ring."""
        slots, stats = self.slots, self.stats
        if bucket > self.head:
            for b in range(max(self.head + 1, bucket - slots + 1), bucket + 1):
                i = b % slots
                stats[i] = stats[slots + i] = stats[2 * slots + i] = 0.0
            self.head = bucket
        elif bucket <= self.head - slots:
            return None
        return bucket % slots

    def add_bucket(self, bucket: int, n: float, total: float, squares: float) -> None:
        """Count a whole bucket (scoring's closed ones); one older than the ring is dropped."""
        if not (n > 0 and math.isfinite(total) and math.isfinite(squares)):
            return
        i = self._slot(bucket)
        if i is None:
            return
        slots, stats = self.slots, self.stats
        stats[i] += n
        stats[slots + i] += total
        stats[2 * slots + i] += squares

    def __getstate__(self) -> tuple[int, int, int, bytes]:
        # A tuple and the raw doubles: a snapshot holds up to max_series of these.
        return self.bucket_ns, self.slots, self.head, self.stats.tobytes()

    def __setstate__(self, state: tuple) -> None:
        if len(state) == 2:  # pickled by slots, before __getstate__: (None, {slot: value})
            for name, value in state[1].items():
                setattr(self, name, value)
            return
        self.bucket_ns, self.slots, self.head, raw = state
        self.stats = array("d")
        self.stats.frombytes(raw)

    def _window(self, lo: int, hi: int, squares: bool = True) -> tuple[float, float, float]:
        """Count, sum, sum of squares of buckets ``lo`` to ``hi`` (inclusive) still held."""
        slots, stats = self.slots, self.stats
        lo, hi = max(lo, self.head - slots + 1), min(hi, self.head)
        if hi < lo:
            return 0.0, 0.0, 0.0
        # One or two runs of slots (the ring wraps), summed in C rather than bucket by bucket.
        a, b = lo % slots, hi % slots + 1
        if a < b:
            n, s = sum(stats[a:b]), sum(stats[slots + a : slots + b])
            q = sum(stats[2 * slots + a : 2 * slots + b]) if squares else 0.0
            return n, s, q
        n = sum(stats[a:slots]) + sum(stats[:b])
        s = sum(stats[slots + a : 2 * slots]) + sum(stats[slots : slots + b])
        q = sum(stats[2 * slots + a :]) + sum(stats[2 * slots : 2 * slots + b]) if squares else 0.0
        return n, s, q

    def change(self, start_ns: int, now_ns: int, before_s: float = BEFORE_S,
               after_s: float = AFTER_S) -> float:  # fmt: skip
        """How far the mean after ``start_ns`` moved from the hour before, in its spreads.

        After: the buckets from the one holding the start, up to ``after_s`` or now.
        Before: the whole buckets within ``before_s`` before that one. 0 when either is
        too thin to tell; a constant series that moved is at ``CHANGE_CAP``.
        """
        first = start_ns // self.bucket_ns
        last = min(start_ns + int(after_s * NS_PER_S), now_ns) // self.bucket_ns
        n_a, s_a, _ = self._window(first, last, squares=False)
        n_b, s_b, q_b = self._window(first - int(before_s * NS_PER_S) // self.bucket_ns, first - 1)
        return _spreads(n_a, s_a, n_b, s_b, q_b)


class LevelBook:
    """Per service and series, a :class:`LevelRing`; at most ``max_series`` series.

    Past the bound, a new series evicts the one updated longest ago (its ring's
    newest bucket), so the book's memory is ``max_series`` rings at most. Changes at
    a start are remembered (the ``_MEMO_STARTS`` read last): until the next bucket closes,
    and for good once its after-window has closed, so a later ranking of the same
    incident reads them instead of rings that have since forgotten the hour before.
    """

    def __init__(self, bucket_s: float = 300.0, slots: int = 15, max_series: int = 50_000) -> None:
        self.bucket_s, self.slots, self.max_series = bucket_s, slots, max_series
        self.rings: dict[str, dict[str, LevelRing]] = {}
        self.count = 0
        self.newest = -1  # the newest bucket number any series has closed
        # (first, last bucket after a start, newest; None once settled) -> service -> changes
        self.memo: OrderedDict[tuple, dict[str, list[tuple[float, str]]]] = OrderedDict()

    def __setstate__(self, state: dict) -> None:
        # Restorable (operators.restorable): a field added since the snapshot gets its default.
        self.__init__()  # type: ignore[misc]
        self.__dict__.update(state)

    @property
    def bucket_ns(self) -> int:
        """The bucket's length in nanoseconds."""
        return int(self.bucket_s * NS_PER_S)

    def _ring(self, service: str, series: str) -> LevelRing | None:
        if series.startswith(DERIVED_PREFIX):
            return None  # sampled traces: an absent window is missing, not a level of 0
        by = self.rings.setdefault(service, {})
        ring = by.get(series)
        if ring is None:
            if self.count >= self.max_series:
                self._evict()
                by = self.rings.setdefault(service, by)
            ring = by[series] = LevelRing(self.bucket_s, self.slots)
            self.count += 1
        return ring

    def add(self, service: str, series: str, ts_ns: int, value: float) -> None:
        """Count one sample of ``service``'s series keyed ``series`` (its name first)."""
        ring = self._ring(service, series)
        if ring is not None:
            ring.add(ts_ns, value)
            self.newest = max(self.newest, ring.head)

    def add_signal(self, signal: LevelSignal) -> None:
        """Count a closed bucket from scoring (any order: the ring places it by number)."""
        service = service_of(signal.labels)
        if service is None or signal.bucket_s != self.bucket_s:
            return
        ring = self._ring(service, signal.series)
        if ring is not None:
            ring.add_bucket(signal.bucket, signal.n, signal.total, signal.squares)
            self.newest = max(self.newest, signal.bucket)

    def _evict(self) -> None:
        # A scan of the book: only when an estate has more series than the bound.
        service, series = min(
            ((s, k) for s, by in self.rings.items() for k in by),
            key=lambda sk: self.rings[sk[0]][sk[1]].head,
        )
        del self.rings[service][series]
        if not self.rings[service]:
            del self.rings[service]
        self.count -= 1

    def window(self, start_ns: int, now_ns: int) -> tuple[int, int]:
        """The buckets a change at ``start_ns`` reads after it: first and last."""
        after = min(start_ns + int(AFTER_S * NS_PER_S), now_ns)
        return start_ns // self.bucket_ns, after // self.bucket_ns

    def changes(self, services: Iterable[str], start_ns: int,
                now_ns: int) -> dict[str, tuple[float, str]]:  # fmt: skip
        """Per service with kept series, its largest change at ``start_ns`` and the series'."""
        return {
            service: max(found)  # (change, series): tuples compare so
            for service, found in self.series_changes(services, start_ns, now_ns).items()
        }

    def series_changes(self, services: Iterable[str], start_ns: int,
                       now_ns: int) -> dict[str, list[tuple[float, str]]]:  # fmt: skip
        """Per service with kept series, each series' change at ``start_ns``."""
        first, last = self.window(start_ns, now_ns)
        # Once the after-window's buckets have all closed the changes there are settled;
        # before, they hold until the next bucket closes.
        key = (first, last, None if self.newest >= last else self.newest)
        memo = self.memo.get(key)
        if memo is None:
            memo = self.memo[key] = {}
            while len(self.memo) > _MEMO_STARTS:
                self.memo.popitem(last=False)  # the least recently read
        else:
            self.memo.move_to_end(key)
        out: dict[str, list[tuple[float, str]]] = {}
        plans: dict[int, tuple] = {}  # the slot runs to sum, per ring head (most share one)
        for service in services:
            known = memo.get(service)
            if known is not None:
                out[service] = known
                continue
            by = self.rings.get(service)
            if not by:
                continue
            out[service] = memo[service] = _changes(by, start_ns, now_ns, plans)
        return out

    def horizon(self, first_alert_ns: int, weights: RankWeights) -> int:
        """The book's newest bucket as far as a ranking at ``first_alert_ns`` reads it.

        Past the end of the incident's after-window (and a bucket's margin) the ranking
        reads settled changes, so the ranking cache need not rank again as buckets close.
        """
        start = first_alert_ns - int(weights.level_lead_s * NS_PER_S)
        return min(self.newest, self.window(start, start + int(AFTER_S * NS_PER_S))[1] + 1)


def _runs(slots: int, lo: int, hi: int, head: int) -> tuple[tuple[int, int], ...]:
    """The slot runs holding buckets ``lo`` to ``hi`` of a ring whose newest is ``head``."""
    lo, hi = max(lo, head - slots + 1), min(hi, head)
    if hi < lo:
        return ()
    a, b = lo % slots, hi % slots + 1
    return ((a, b),) if a < b else ((a, slots), (0, b))


def _changes(
    rings: dict[str, LevelRing], start_ns: int, now_ns: int, plans: dict[int, tuple]
) -> list[tuple[float, str]]:
    """:meth:`LevelRing.change` of every ring of one book at one start, as ``(change, series)``.

    The same arithmetic (a test holds them equal), with the bucket numbers and slot runs
    worked out once per ring head rather than per ring: a first ranking reads ~50 series.
    """
    out = []
    for series, ring in rings.items():
        slots, head = ring.slots, ring.head
        plan = plans.get(head)
        if plan is None or plan[0] != ring.bucket_ns or plan[1] != slots:
            bucket_ns = ring.bucket_ns
            first = start_ns // bucket_ns
            last = min(start_ns + int(AFTER_S * NS_PER_S), now_ns) // bucket_ns
            lo = first - int(BEFORE_S * NS_PER_S) // bucket_ns
            plan = plans[head] = (bucket_ns, slots, _runs(slots, first, last, head),
                                  _runs(slots, lo, first - 1, head))  # fmt: skip
        stats, before = ring.stats, plan[3]
        n_b = s_b = q_b = 0.0
        for a, b in before:
            n_b += sum(stats[a:b])
            s_b += sum(stats[slots + a : slots + b])
            q_b += sum(stats[2 * slots + a : 2 * slots + b])
        n_a = s_a = 0.0
        for a, b in plan[2]:
            n_a += sum(stats[a:b])
            s_a += sum(stats[slots + a : slots + b])
        out.append((_spreads(n_a, s_a, n_b, s_b, q_b), series))
    return out


def _spreads(n_a: float, s_a: float, n_b: float, s_b: float, q_b: float) -> float:
    """How far the mean after moved from the mean before, in the spreads before (capped)."""
    if n_a == 0 or n_b < _MIN_BEFORE:
        return 0.0
    mean_b = s_b / n_b
    moved = abs(s_a / n_a - mean_b)
    sd = math.sqrt(max(0.0, q_b / n_b - mean_b * mean_b))
    # Below float rounding of the mean, the hour before was constant.
    if sd <= 1e-9 * max(1.0, abs(mean_b)):
        return CHANGE_CAP if moved > 1e-9 * max(1.0, abs(mean_b)) else 0.0
    return min(CHANGE_CAP, moved / sd)
