"""Multivariate scoring per entity: one vector of metrics per event-time window, isolated.

:class:`EntityAligner` turns one entity's samples (every series sharing, say, a ``service``
label) into one vector per tumbling event-time window; :class:`EntityScorer` scores each
closed window with a streaming isolation forest, so a combination no single metric would flag
(a pair that always moves together, moving apart) stands out. Scores are in [0, 1], higher is
more anomalous; each comes with the metrics that set the window apart.

Time is the samples' own: a window ``[start, start + window_s)`` closes once the newest
timestamp seen is ``lateness_s`` past its end; a sample for a closed window is late and
dropped (counted). ``flush()`` closes what is still open at the end of the input.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from alertflow.operators.isolation.errors import IsolationError
from alertflow.operators.isolation.forest import IsolationForest
from alertflow.operators.isolation.scaling import RobustScaler
from alertflow.operators.isolation.whitening import Whitener

_AGGREGATES = ("last", "mean")


def entity_of(labels: Mapping[str, str], by: Sequence[str] = ("service", "instance")) -> str | None:
    """The entity a series belongs to: the first of ``by`` present in its labels.

    >>> entity_of({"instance": "db-1:9100", "job": "node"})
    'instance=db-1:9100'
    """
    for name in by:
        if labels.get(name):
            return f"{name}={labels[name]}"
    return None


@dataclass(frozen=True, slots=True)
class EntityVector:
    """One closed window of one entity.

    ``values`` holds each metric's window aggregate, or its last known value when the window
    had no sample of it (NaN before its first sample); ``observed`` says which had samples.
    ``z`` is each metric's robust z-score against the windows before, 0 until its scaler has
    ``warm``ed up on ``warmup`` windows.
    """

    entity: str
    window_end_ns: int
    metrics: tuple[str, ...]
    values: np.ndarray
    observed: np.ndarray
    z: np.ndarray
    warm: np.ndarray


@dataclass(slots=True)
class _OpenWindow:
    sums: np.ndarray
    counts: np.ndarray
    last_ts: np.ndarray
    last: np.ndarray

    @classmethod
    def empty(cls, width: int) -> "_OpenWindow":
        return cls(
            np.zeros(width),
            np.zeros(width, dtype=np.int64),
            np.full(width, np.iinfo(np.int64).min),
            np.full(width, math.nan),
        )

    def add(self, index: int, value: float, ts_ns: int) -> None:
        self.sums[index] += value
        self.counts[index] += 1
        if ts_ns >= self.last_ts[index]:  # ties: the later arrival wins
            self.last_ts[index], self.last[index] = ts_ns, value


class EntityAligner:
    """Aligns one entity's metrics into tumbling event-time windows, one vector per window.

    Metrics get a fixed position in the order they first appear, up to ``max_metrics`` (later
    ones are ignored and counted in ``dropped_metrics``). A window's value per metric is the
    ``agg`` (``"last"`` or ``"mean"``) of its samples, or the last known value when it had
    none. At most ``max_open_windows`` windows wait for late data; beyond that the oldest is
    closed early. Windows without any sample are not emitted.

    >>> aligner = EntityAligner("service=api", window_s=60, lateness_s=10)
    >>> s = 1_000_000_000
    >>> aligner.add("cpu", 0.5, 5 * s), aligner.add("rps", 120.0, 30 * s)
    ([], [])
    >>> [w.window_end_ns // s for w in aligner.add("cpu", 0.6, 71 * s)]
    [60]
    >>> [(w.window_end_ns // s, w.values.tolist()) for w in aligner.flush()]
    [(120, [0.6, 120.0])]
    """

    def __init__(
        self,
        entity: str,
        window_s: float = 60.0,
        lateness_s: float = 0.0,
        agg: str = "last",
        max_metrics: int = 16,
        max_open_windows: int = 16,
        alpha: float = 0.02,
        warmup: int = 10,
    ) -> None:
        if agg not in _AGGREGATES or window_s <= 0 or lateness_s < 0:
            raise IsolationError(
                f"EntityAligner: expected agg in {_AGGREGATES}, window_s > 0 "
                f"and lateness_s >= 0, got agg={agg!r}, window_s={window_s}, "
                f"lateness_s={lateness_s}"
            )
        if max_metrics < 1 or max_open_windows < 1:
            raise IsolationError(
                f"EntityAligner: expected max_metrics >= 1 and "
                f"max_open_windows >= 1, got {max_metrics}, {max_open_windows}"
            )
        self.entity = entity
        self.window_s = window_s
        self.lateness_s = lateness_s
        self.agg = agg
        self.max_metrics = max_metrics
        self.max_open_windows = max_open_windows
        self.alpha = alpha
        self.warmup = warmup
        self.metrics: list[str] = []
        self.scaler = RobustScaler(alpha=alpha, warmup=warmup)
        self.late = 0
        self.dropped_metrics = 0
        self.non_finite = 0
        self._open: dict[int, _OpenWindow] = {}
        self._carry = np.full(max_metrics, math.nan)
        self._max_ts: int | None = None
        self._closed_until: int | None = None  # end of the newest closed window

    @property
    def window_ns(self) -> int:
        """Window length in nanoseconds."""
        return round(self.window_s * 1e9)

    @property
    def watermark_ns(self) -> int | None:
        """Event time up to which every sample is assumed to have arrived."""
        return None if self._max_ts is None else self._max_ts - round(self.lateness_s * 1e9)

    def add(self, metric: str, value: float, ts_ns: int) -> list[EntityVector]:
        """Add one sample; return the windows its timestamp closes, oldest first."""
        start = ts_ns - ts_ns % self.window_ns
        if self._closed_until is not None and start + self.window_ns <= self._closed_until:
            self.late += 1
        elif not math.isfinite(value):
            self.non_finite += 1
        elif (index := self._index(metric)) is not None:
            bucket = self._open.get(start)
            if bucket is None:
                bucket = self._open[start] = _OpenWindow.empty(self.max_metrics)
            bucket.add(index, value, ts_ns)
        # Every sample with a timestamp says how far the entity's event time has got.
        self._max_ts = ts_ns if self._max_ts is None else max(self._max_ts, ts_ns)
        return self._close_until(self.watermark_ns)

    def flush(self) -> list[EntityVector]:
        """Close every open window: the end of a bounded input."""
        return self._close_until(None)

    def _index(self, metric: str) -> int | None:
        try:
            return self.metrics.index(metric)
        except ValueError:
            if len(self.metrics) >= self.max_metrics:
                self.dropped_metrics += 1
                return None
            self.metrics.append(metric)
            return len(self.metrics) - 1

    def _close_until(self, watermark: int | None) -> list[EntityVector]:
        closed = []
        for start in sorted(self._open):
            too_many = len(self._open) > self.max_open_windows
            if watermark is not None and start + self.window_ns > watermark and not too_many:
                break
            closed.append(self._close(start, self._open.pop(start)))
        return closed

    def _close(self, start: int, bucket: _OpenWindow) -> EntityVector:
        observed = bucket.counts > 0
        aggregate = (
            bucket.last if self.agg == "last" else bucket.sums / np.maximum(bucket.counts, 1)
        )
        values = np.where(observed, aggregate, self._carry)
        self._carry = values
        self._closed_until = start + self.window_ns
        width = len(self.metrics)
        known = values[:width]
        z = np.nan_to_num(self.scaler.transform_one(known), nan=0.0)
        warm = self.scaler.warmed_up()[:width].copy()
        self.scaler.learn_one(known)
        return EntityVector(
            self.entity,
            start + self.window_ns,
            tuple(self.metrics),
            known.copy(),
            observed[:width].copy(),
            np.where(warm, z, 0.0),
            warm,
        )


@dataclass(frozen=True, slots=True)
class EntityScore:
    """The verdict on one closed window of one entity.

    ``score`` in [0, 1] (0 while warming up); ``contributions`` each metric's share of the
    isolation (summing to 1; empty while warming up); ``z`` each metric's |robust z-score|,
    what a per-metric detector would have seen; ``observed`` the metrics sampled in the window.
    """

    entity: str
    window_end_ns: int
    score: float
    contributions: dict[str, float] = field(default_factory=dict)
    z: dict[str, float] = field(default_factory=dict)
    observed: tuple[str, ...] = ()

    def top_metrics(self, k: int = 3) -> list[str]:
        """The ``k`` metrics that set the window apart most."""
        return sorted(self.contributions, key=self.contributions.__getitem__, reverse=True)[:k]


class EntityScorer:
    """Scores every closed window of one entity with a streaming isolation forest.

    Each window's metrics, as robust z-scores (0 for a metric still warming up or never seen;
    ``max_metrics`` wide whatever the number so far, so metrics may appear late), are
    decorrelated by a :class:`Whitener` (when ``decorrelate``) and scored by an
    :class:`IsolationForest` with hyperplane splits (``extension_level``), then learned. A
    metric's contribution is how far the score falls when that metric alone is put back at
    its usual level (z = 0). The scaler, the whitener and the forest each warm up on
    ``warmup`` windows in turn: scores are 0.0 for the first ``3 * warmup`` windows. Trees
    grow on 64 windows (not the forest's 128): as good on the synthetic fleet in
    ``bench/isolation.py``, half the state (~170 KiB per entity with 8 metrics).

    >>> scorer = EntityScorer("service=api", window_s=60, warmup=16, seed=1)
    >>> rng = np.random.default_rng(0)
    >>> s = 1_000_000_000
    >>> for minute in range(300):
    ...     load = rng.uniform(0, 10)
    ...     _ = scorer.add("rps", 100 * load + rng.normal(), minute * 60 * s)
    ...     _ = scorer.add("cpu", 5 * load + rng.normal(), minute * 60 * s)
    >>> _ = scorer.add("rps", 900.0, 300 * 60 * s), scorer.add("cpu", 5.0, 300 * 60 * s)
    >>> verdict = scorer.flush()[0]  # each within its range, the pair apart: caught
    >>> round(verdict.score, 2), round(max(verdict.z.values()), 1), sorted(verdict.top_metrics())
    (0.89, 1.4, ['cpu', 'rps'])
    """

    def __init__(
        self,
        entity: str,
        window_s: float = 60.0,
        lateness_s: float = 0.0,
        agg: str = "mean",
        max_metrics: int = 8,
        decorrelate: bool = True,
        n_trees: int = 32,
        window_size: int = 256,
        sample_size: int = 64,
        warmup: int = 32,
        extension_level: int | None = None,
        seed: int = 0,
    ) -> None:
        self.entity = entity
        self.window_s = window_s
        self.lateness_s = lateness_s
        self.agg = agg
        self.max_metrics = max_metrics
        self.decorrelate = decorrelate
        self.n_trees = n_trees
        self.window_size = window_size
        self.sample_size = sample_size
        self.warmup = warmup
        self.extension_level = extension_level
        self.seed = seed
        self.aligner = EntityAligner(
            entity,
            window_s=window_s,
            lateness_s=lateness_s,
            agg=agg,
            max_metrics=max_metrics,
            warmup=warmup,
        )
        self.whitener = Whitener()
        self.forest = IsolationForest(
            n_trees=n_trees,
            window_size=window_size,
            sample_size=sample_size,
            warmup=warmup,
            extension_level=extension_level,
            seed=seed,
        )
        self._admitted = np.zeros(max_metrics, dtype=bool)  # metrics the whitener knows

    def add(self, metric: str, value: float, ts_ns: int) -> list[EntityScore]:
        """Add one sample; score the windows it closes."""
        return [self._score(v) for v in self.aligner.add(metric, value, ts_ns)]

    def flush(self) -> list[EntityScore]:
        """Close and score every open window."""
        return [self._score(v) for v in self.aligner.flush()]

    def _score(self, vector: EntityVector) -> EntityScore:
        names, width = vector.metrics, len(vector.metrics)
        z = {m: float(abs(vector.z[i])) for i, m in enumerate(names)}
        observed = tuple(m for i, m in enumerate(names) if vector.observed[i])
        if not vector.warm.any():  # nothing scaled yet: neither score nor teach anything
            return EntityScore(vector.entity, vector.window_end_ns, 0.0, {}, z, observed)
        for index in np.flatnonzero(vector.warm & ~self._admitted[:width]):
            self.whitener.reset_feature(int(index))  # a metric whose z has just become real
            self._admitted[index] = True
        point = np.zeros(self.max_metrics)
        point[:width] = vector.z
        # Row 0 is the window; row 1 + i has metric i put back at its usual level.
        variants = np.repeat(point[None, :], width + 1, axis=0)
        variants[np.arange(1, width + 1), np.arange(width)] = 0.0
        if self.decorrelate:
            variants = self.whitener.transform_many(variants)
            self.whitener.learn_one(point)
            if self.whitener.n <= self.warmup:  # its first vectors only shape the whitening
                return EntityScore(vector.entity, vector.window_end_ns, 0.0, {}, z, observed)
        scores = self.forest.score_many(variants)
        self.forest.learn_one(variants[0])
        share = np.maximum(scores[0] - scores[1:], 0.0)
        total = share.sum()
        contributions = {m: float(share[i] / total) for i, m in enumerate(names)} if total else {}
        return EntityScore(
            vector.entity, vector.window_end_ns, float(scores[0]), contributions, z, observed
        )
