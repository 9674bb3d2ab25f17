"""Per-series scoring in event time: one detector per series, late samples rejected.

Order: samples are scored once, in arrival order. One older than the series' newest by
more than ``lateness_s`` is late (dead-lettered with the reason); one within the bound is
scored when it arrives, without an interval (``interval_s`` is the time since the previous
sample going forward, never negative). A copy of a timestamp among the series' last
``RECENT_TIMESTAMPS`` samples is dropped, so a re-sent sample is never learnt twice.
"""

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from alertflow.operators.anomaly import AnomalyDetector
from alertflow.operators.anomaly.cold_start import ColdStart, ColdStartSettings
from alertflow.operators.anomaly.stacked import StackedStates
from alertflow.operators.correlation.rank_levels import LevelSignal
from alertflow.operators.decisions import Decision
from alertflow.operators.ids import series_id_prefix
from alertflow.operators.score_block import ScoreBlock, record_fields
from alertflow.operators.series_shift import ShiftTracker
from alertflow.schemas.outputs import Anomaly
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import NS_PER_S, format_ns, stamp_ns

RECENT_TIMESTAMPS = 16


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """How samples become anomaly records."""

    threshold: float = 0.5
    critical_threshold: float = 0.999
    lateness_s: float = 300.0
    emit_scores: bool = False  # also emit every scored sample to the ``scores`` stream
    track_shift: bool = False  # anomalies say how far their series moved from its last hour
    # Each series' closed buckets of this length go to correlation (``LevelSignal``): root-cause
    # ranking reads what changed at an incident's start from them. 0: none.
    level_bucket_s: float = 0.0
    cold_start: ColdStartSettings = field(default_factory=ColdStartSettings)


@dataclass(frozen=True, slots=True)
class LateSample:
    """A sample older than the series' event-time watermark."""

    key: str
    sample: MetricSample
    watermark_ns: int

    @property
    def reason(self) -> str:
        """The dead-letter reason."""
        behind = (self.watermark_ns - self.sample.ts_ns) / NS_PER_S
        return f"late sample: {behind:.1f}s behind the watermark of {self.key}"


class SeriesScorer:
    """Scores one series' samples in event time, each before the model learns it.

    A sample at a timestamp already seen is a duplicate and is skipped; one
    older than the newest by more than the lateness bound is returned as a
    :class:`LateSample`; one within the bound is scored and learned. NaN
    (Prometheus' staleness marker) and infinite values are skipped. While the
    detector warms up, a :class:`ColdStart` judges the samples (``info`` severity).

    >>> from alertflow.operators.anomaly import RobustEWMA
    >>> scorer = SeriesScorer("up", ScoringSettings(), lambda: RobustEWMA(warmup=5))
    >>> out = [scorer.process(MetricSample("up", {}, i * 10**9, 1.0)) for i in range(10)]
    >>> out[-1]
    []
    """

    # A series' closed level buckets go to correlation (LevelSignal); class defaults, so a
    # scorer restored from an older snapshot has them.
    level_ns = 0
    level: list | None = None  # the open bucket: [start ns, end ns, count, sum, sum of squares]
    closed_level: LevelSignal | None = None  # the one a sample just closed

    def __init__(
        self,
        key: str,
        settings: ScoringSettings,
        make_detector: Callable[[], AnomalyDetector],
    ) -> None:
        self.key = key
        self.settings = settings
        self.detector = make_detector()
        self.max_ts_ns: int | None = None
        self.lateness_ns = int(settings.lateness_s * NS_PER_S)
        self.id_prefix = series_id_prefix(key)
        self.cold = ColdStart(settings.cold_start) if settings.cold_start.enabled else None
        # Samples until the detector is warm, counted here: cheaper than asking it each time.
        self.cold_left: int | None = getattr(self.detector, "warmup", None)
        self.interval_ns: int | None = None
        # Timestamps of the last samples scored: a copy of one of them is not scored twice.
        self.recent_ts: deque[int] = deque(maxlen=RECENT_TIMESTAMPS)
        # How far the series moved from its own last hour, and since when: root-cause
        # ranking compares services by it (operators.series_shift).
        # Opt-in: one more kernel call per sample, and no out-of-fold gain yet (rank_cv).
        self.shift_tracker = ShiftTracker() if settings.track_shift else None
        self.shift: float | None = None
        self.level_ns = int(settings.level_bucket_s * NS_PER_S)
        self.level = [0, 0, 0.0, 0.0, 0.0] if self.level_ns else None

    def process(
        self, sample: MetricSample, block: ScoreBlock | None = None
    ) -> list[Decision | LateSample]:
        """Score then learn one sample (its ``scores`` record a row of ``block`` if given)."""
        skipped = self.admit(sample)
        if skipped is not None:
            return skipped
        update = getattr(self.detector, "update", None)
        if update is not None:
            # One call scores, then learns; the detector keeps the expectation it scored against.
            return self.judge(sample, update(sample.value, sample.ts_ns), None, block)
        score = self.detector.score_one(sample.value, sample.ts_ns)
        out = (self._cold_start if self.cold else self._decisions)(sample, score, None, block)
        self.detector.learn_one(sample.value, sample.ts_ns)
        return out

    def admit(self, sample: MetricSample) -> list[Decision | LateSample] | None:
        """None when ``sample`` is to be scored now; else what it yields instead.

        Instead: nothing (a duplicate, NaN) or a :class:`LateSample`. An admitted
        sample's order is recorded here (watermark, interval, recent timestamps).
        """
        ts = sample.ts_ns
        if self.max_ts_ns is not None:
            if ts == self.max_ts_ns:
                return []
            if ts < self.max_ts_ns:
                watermark = self.max_ts_ns - self.lateness_ns
                if ts < watermark:
                    return [LateSample(self.key, sample, watermark)]
                if ts in self.recent_ts:  # a re-sent copy of a sample already scored
                    return []
        if not math.isfinite(sample.value):
            return []
        # Out of order within the lateness bound: scored once, in arrival order, with no
        # interval (time since the previous sample) because it has none going forward.
        in_order = self.max_ts_ns is None or ts > self.max_ts_ns
        previous = self.max_ts_ns if in_order else None
        self.interval_ns = None if previous is None else ts - previous
        self.recent_ts.append(ts)
        if in_order:
            self.max_ts_ns = ts
        if self.shift_tracker is not None:
            self.shift = self.shift_tracker.update(sample.value, ts)
        level = self.level
        if level is not None:
            value = sample.value
            if level[0] <= ts < level[1]:  # most samples: the open bucket's
                level[2] += 1.0
                level[3] += value
                level[4] += value * value
            else:
                self._level(ts, value, sample.labels)
        return None

    def _level(self, ts: int, value: float, labels: dict[str, str]) -> None:
        """A sample outside the open bucket: a newer one closes it, an older one is dropped."""
        level, ns = self.level, self.level_ns
        assert level is not None
        if ts < level[0]:
            return  # its bucket has gone to correlation already
        if level[2]:
            self.closed_level = LevelSignal(
                self.key, labels, level[0] // ns, ns / NS_PER_S, level[2], level[3], level[4]
            )
        level[0] = start = ts - ts % ns
        level[1] = start + ns
        level[2], level[3], level[4] = 1.0, value, value * value

    def judge(
        self, sample: MetricSample, score: float, band: list[float] | None = None,
        block: ScoreBlock | None = None,
    ) -> list[Decision | LateSample]:
        """The decisions for an admitted sample the detector just scored (and learned).

        ``band`` is the detector's ``[score, expected, lower, upper]`` report when the
        caller already has it (:class:`ShardScorer` reads a batch's at once). With a
        ``block``, the ``scores`` record is a row of it instead of a decision.
        """
        if self.cold is not None:
            return self._cold_start(sample, score, band, block)
        return self._decisions(sample, score, band, block)

    def _cold_start(
        self, sample: MetricSample, score: float, band: list[float] | None = None,
        block: ScoreBlock | None = None,
    ) -> list[Decision | LateSample]:
        cold = self.cold
        assert cold is not None
        if self.cold_left is not None:
            self.cold_left -= 1
            warm = self.cold_left <= 0
        else:
            warm = self.detector.warmed_up
        if warm:
            self.cold = None  # the detector speaks from here on; the history is no longer needed
            return self._decisions(sample, score, band, block)
        z = cold.update(sample.value)
        anomalous = cold.anomalous(z)
        # Most samples are normal and, without emit_scores, cost nothing more than this.
        if not (anomalous or self.settings.emit_scores):
            return []
        expected, lower, upper = cold.band(sample.value)
        if lower < 0.0 and self._never_negative():
            lower = 0.0
        stream, detectors = ("anomalies", ["cold_start"]) if anomalous else ("scores", [])
        if block is not None and not anomalous:
            block.rows.append((self.id_prefix, self.key, sample, cold.score(z), expected,
                               lower, upper, detectors, "info"))
            return []
        decision = self._decision(
            stream, sample, cold.score(z), expected, lower, upper, detectors, "info"
        )
        return [decision]

    def _decisions(
        self, sample: MetricSample, score: float, band: list[float] | None = None,
        block: ScoreBlock | None = None,
    ) -> list[Decision | LateSample]:
        fired = score >= self.settings.threshold
        if not (fired or self.settings.emit_scores):
            return []
        out: list[Decision | LateSample] = []
        if band is not None:
            _, expected, lower, upper = band
            if expected != expected:  # NaN: no expectation behind the score
                expected = lower = upper = sample.value
        else:
            expectation = self.detector.expectation()
            if expectation is None:
                expected = lower = upper = sample.value
            else:
                expected, lower, upper = expectation.expected, expectation.lower, expectation.upper
        detectors = self._contributors() if fired else []
        severity = "critical" if score >= self.settings.critical_threshold else "warning"
        if fired:
            out.append(
                self._decision(
                    "anomalies", sample, score, expected, lower, upper, detectors, severity
                )
            )
        if not self.settings.emit_scores:
            return out
        if block is not None:
            block.rows.append((self.id_prefix, self.key, sample, score, expected, lower, upper,
                               detectors, severity))
        else:
            out.append(
                self._decision("scores", sample, score, expected, lower, upper, detectors, severity)
            )
        return out

    def _decision(
        self,
        stream: str,
        sample: MetricSample,
        score: float,
        expected: float,
        lower: float,
        upper: float,
        detectors: list[str],
        severity: str,
    ) -> Decision:
        row = (self.id_prefix, self.key, sample, score, expected, lower, upper, detectors, severity)
        fields = record_fields(row, stamp_ns(sample.ts_ns))
        if stream == "anomalies" and self.interval_ns is not None:
            # Correlation's lag tolerance needs it; per-sample ``scores`` stay lean.
            fields["interval_s"] = self.interval_ns / NS_PER_S
        if stream == "anomalies" and self.shift is not None:
            fields["shift"] = self.shift
            onset = self.shift_tracker.onset_ns
            fields["onset"] = format_ns(onset if onset is not None else sample.ts_ns)
        # The per-sample ``scores`` stream stays a plain dict (the same fields): building a
        # model per sample would cost more than scoring it.
        record = Anomaly(**fields) if stream == "anomalies" else fields
        return Decision(stream, self.key, record, (sample.ref,), sample.read_ns)

    def _never_negative(self) -> bool:
        never_negative = getattr(self.detector, "never_negative", None)
        return never_negative is not None and never_negative()

    def _contributors(self) -> list[str]:
        contributors = getattr(self.detector, "contributors", None)
        named = contributors() if contributors is not None else []
        return named or [self.detector.name]


class ShardScorer:
    """The scorers of every series that hashes to one shard, fed a micro-batch at a time.

    Keying the engine by shard rather than by series lets one call score a whole
    poll's worth of samples, instead of paying the engine's per-key overhead per
    sample. Series silent for ``idle_ns`` of wall time are forgotten at the next
    :meth:`evict_idle`, so memory follows the live series, not all series ever seen.
    """

    # A restart with a changed configuration applies it: restored shards take these from
    # one built now (operators.restorable.upgrade); their series' detectors keep learning.
    configured_attributes = ("settings", "make_detector")

    def __init__(
        self,
        settings: ScoringSettings,
        make_detector: Callable[[], AnomalyDetector],
        idle_ns: int,
    ) -> None:
        self.settings = settings
        self.make_detector = make_detector
        self.idle_ns = idle_ns
        self.scorers: dict[str, SeriesScorer] = {}
        self.last_seen_ns: dict[str, int] = {}
        self._unstacked()

    def _unstacked(self) -> None:
        # The series' detector states as rows of one array (operators.anomaly.stacked), and
        # each series' row (-1: its detector cannot be stacked). Rebuilt after a restore:
        # every detector pickles its own state.
        self._stack: StackedStates | None = None
        self._rows: dict[str, int] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_stack"], state["_rows"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._unstacked()

    def process(
        self, items: Iterable[tuple[str, MetricSample]], wall_ns: int, blocks: bool = False
    ) -> list[Decision | LateSample | ScoreBlock | LevelSignal]:
        """Score ``(series_key, sample)`` pairs; the decisions come in arrival order.

        Samples of distinct series are scored together, one kernel call for the lot
        (a series' second sample waits for the first's decisions, so every decision
        reads its own sample's state). With ``blocks``, the ``scores`` records are the
        rows of one :class:`ScoreBlock` at the end, in arrival order. Closed level
        buckets (``level_bucket_s``) come last, as :class:`LevelSignal` items.
        """
        out: list[Decision | LateSample | ScoreBlock | LevelSignal] = []
        block = ScoreBlock() if blocks and self.settings.emit_scores else None
        scorers = self.scorers
        seen = self.last_seen_ns
        rows = self._rows
        # row -> (scorer, sample) admitted and waiting for the kernel, in arrival order
        pending: dict[int, tuple[SeriesScorer, MetricSample]] = {}
        levels: list[LevelSignal] = []  # closed level buckets: after the shard's decisions
        for key, sample in items:
            scorer = scorers.get(key)
            if scorer is None:
                scorer = scorers[key] = SeriesScorer(key, self.settings, self.make_detector)
            seen[key] = wall_ns
            row = rows.get(key)
            if row is None:
                row = rows[key] = self._adopt(scorer)
            if row in pending or row < 0:
                self._score(pending, out, block)
                if row < 0:
                    out.extend(scorer.process(sample, block))
            skipped = scorer.admit(sample) if row >= 0 else []
            if scorer.closed_level is not None:
                levels.append(scorer.closed_level)
                scorer.closed_level = None
            if skipped is None:
                pending[row] = (scorer, sample)
            elif skipped:  # a late sample: after the decisions of those before it
                self._score(pending, out, block)
                out.extend(skipped)
        self._score(pending, out, block)
        if block:
            out.append(block)
        out.extend(levels)
        return out

    def _adopt(self, scorer: SeriesScorer) -> int:
        """The series' row in the shard's stacked states; -1 when it cannot have one."""
        detector = scorer.detector
        if self._stack is None:
            if not StackedStates.can_stack(detector):
                return -1
            self._stack = StackedStates(detector)  # type: ignore[arg-type]
        if not self._stack.fits(detector):  # type: ignore[arg-type]
            return -1  # e.g. restored with settings of an earlier configuration
        return self._stack.adopt(detector)  # type: ignore[arg-type]

    def _score(
        self,
        pending: dict[int, tuple[SeriesScorer, MetricSample]],
        out: list,
        block: ScoreBlock | None = None,
    ) -> None:
        """Score the pending samples in one kernel call, then judge each in order."""
        if not pending:
            return
        assert self._stack is not None
        samples = list(pending.values())
        bands = self._stack.update(
            list(pending), [s.value for _, s in samples], [s.ts_ns for _, s in samples]
        )
        pending.clear()
        rows = block.rows if block is not None else None
        for (scorer, sample), band in zip(samples, bands, strict=True):
            score = band[0]
            settings = scorer.settings
            if (rows is not None and scorer.cold is None and score < settings.threshold
                    and settings.emit_scores):
                # Most samples: warm, below the threshold, only a ``scores`` row. The row
                # SeriesScorer._decisions would append, without its two calls per sample.
                _, expected, lower, upper = band
                if expected != expected:  # NaN: no expectation behind the score
                    expected = lower = upper = sample.value
                severity = "critical" if score >= settings.critical_threshold else "warning"
                rows.append((scorer.id_prefix, scorer.key, sample, score, expected, lower,
                             upper, [], severity))
                continue
            decisions = scorer.judge(sample, score, band, block)
            if decisions:
                out.extend(decisions)

    def evict_idle(self, wall_ns: int) -> int:
        """Forget series not seen for ``idle_ns``; returns how many were dropped."""
        cutoff = wall_ns - self.idle_ns
        stale = [key for key, seen in self.last_seen_ns.items() if seen < cutoff]
        for key in stale:
            del self.scorers[key]
            del self.last_seen_ns[key]
            row = self._rows.pop(key, -1)
            if row >= 0:
                assert self._stack is not None
                self._stack.release(row)
        return len(stale)

