"""Breach prediction: each series with a threshold is forecast, and its crossing foretold.

The chance of a breach at a step is the normal tail of the forecast's distribution
there (its spread read off the tracked error quantiles); the prediction's confidence
is the largest over the horizon, and the breach time is the first step at which the
point forecast crosses. A series is forecast only if a threshold selects it, and only
every ``forecast_every_s`` of event time, so the per-sample cost is a bucket sum.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from alertflow.operators.decisions import Decision
from alertflow.operators.ids import stable_id
from alertflow.operators.prediction.dynamic import DynamicLevels
from alertflow.operators.prediction.forecaster import (
    NS_PER_S,
    Forecast,
    ForecasterSettings,
    SeasonalForecaster,
)
from alertflow.operators.prediction.recommendations import Catalogue, TrendEvidence
from alertflow.schemas.config_prediction import PredictionConfig, Threshold
from alertflow.schemas.outputs import ForecastPoint, Prediction, ThresholdRef
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import format_ns

_Z90 = 1.645  # the forecaster's interval is the central 90% of its errors


@dataclass(frozen=True, slots=True)
class PredictionSignal:
    """A prediction's news for the correlator: predicted, withdrawn, or the breach itself."""

    kind: str  # predicted | withdrawn | breached
    series: str
    name: str
    labels: dict[str, str]
    ts_ns: int
    threshold: str
    confidence: float
    breach_ns: int | None
    prediction_id: str
    recommendations: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """One predicted incident per series and threshold."""
        return f"prediction:{self.series}:{self.threshold}"


@dataclass(frozen=True, slots=True)
class Breach:
    """When (or whether) a forecast crosses a threshold, and how likely that is."""

    step: int | None  # first step (1-based) whose mean crosses; None: none within the horizon
    confidence: float


def breach_of(fc: Forecast, direction: str, level: "float | np.ndarray") -> Breach:
    """The first crossing of ``level`` (one, or one per step) by the forecast's mean.

    >>> fc = Forecast(0, 60, np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([2.0, 3.0, 4.0]))
    >>> b = breach_of(fc, "above", 2.5)
    >>> b.step, round(b.confidence, 2)
    (3, 0.66)
    """
    sigma = np.maximum((fc.upper - fc.lower) / (2 * _Z90), 1e-12)
    gap = fc.mean - level if direction == "above" else level - fc.mean
    # The normal tail is monotone in z: only the largest z needs an erf.
    z = float((gap / sigma).max())
    confidence = 0.5 * (1.0 + math.erf(z / math.sqrt(2)))
    crossed = np.flatnonzero(gap >= 0)
    step = int(crossed[0]) + 1 if crossed.size else None
    return Breach(step, min(1.0, max(0.0, confidence)))


class SeriesPredictor:
    """One series' forecaster and the thresholds that select it."""

    def __init__(
        self,
        key: str,
        thresholds: list[Threshold],
        config: PredictionConfig,
        catalogue: Catalogue,
        lstm_weights: str | None = None,
    ) -> None:
        self.key = key
        self.thresholds = thresholds
        self.config = config
        self.catalogue = catalogue
        self.forecaster = SeasonalForecaster(
            ForecasterSettings(
                horizon_s=config.horizon_s,
                forecast_every_s=config.forecast_every_s,
                min_step_s=config.min_step_s,
                lstm_weights=lstm_weights,
            )
        )
        # Per threshold: whether a breach prediction is in force, the id of the one that
        # opened a predicted incident (None: none), and whether the series is on the breach
        # side now (no prediction is made while it is).
        self.emitted = [False] * len(thresholds)
        self.active: list[str | None] = [None] * len(thresholds)
        self.breached = [False] * len(thresholds)
        self.rearm_ns = [0] * len(thresholds)
        self.horizon_ns = int(config.horizon_s * NS_PER_S)
        # Checked on every sample: plain tuples, not the model's properties.
        self.bounds = [(t.level, t.direction == "above") for t in thresholds]
        self.dynamic = [DynamicLevels(t.dynamic) if t.dynamic else None for t in thresholds]

    def process(self, sample: MetricSample) -> list[Decision | PredictionSignal]:
        """Learn one sample; report a breach as it happens, predictions when a forecast is due."""
        if not math.isfinite(sample.value):
            return []
        out: list[Decision | PredictionSignal] = []
        value = sample.value
        for i, (level, above) in enumerate(self.bounds):
            dynamic = self.dynamic[i]
            if dynamic is None:
                now = value > level if above else value < level
            else:  # the residual is out of sample: the baseline before this value is learned
                baseline = self.forecaster.baseline_at(sample.ts_ns)
                if baseline is not None:
                    dynamic.observe(value, sample.ts_ns, baseline)
                now = dynamic.firing
            if now:
                # A breach is detection's business from here: predict again only once the
                # series has stayed on the safe side for a horizon (no re-predicting noise).
                if not self.breached[i]:
                    out.extend(self._on_breach(sample, i))
                self.rearm_ns[i] = sample.ts_ns + self.horizon_ns
            self.breached[i] = now
        fc = self.forecaster.learn_one(sample.value, sample.ts_ns)
        if fc is not None:
            for i in range(len(self.thresholds)):
                out.extend(self._predict(sample, fc, i))
        return out

    def _on_breach(self, sample: MetricSample, i: int) -> list[Decision | PredictionSignal]:
        self.emitted[i] = False
        active, self.active[i] = self.active[i], None
        if active is None:
            return []
        return [self._signal("breached", sample, i, 1.0, sample.ts_ns, active)]

    def _predict(
        self, sample: MetricSample, fc: Forecast, i: int
    ) -> list[Decision | PredictionSignal]:
        threshold = self.thresholds[i]
        if self.breached[i] or sample.ts_ns < self.rearm_ns[i]:
            return []
        level = self._level_path(fc, i)
        if level is None:
            return []
        breach = breach_of(fc, threshold.direction, level)
        # The combination is chosen for accuracy from errors a horizon old, so it follows a
        # new trend late: the trend's own path may foretell the breach, and is then shown.
        trend = self.forecaster.trend_forecast(fc)
        if trend is not None:
            by_trend = breach_of(trend, threshold.direction, level)
            if by_trend.confidence > breach.confidence:
                fc, breach = trend, by_trend
        breach_ns = None if breach.step is None else fc.origin_ns + breach.step * fc.step_ns
        lead_ok = breach_ns is not None and (
            breach_ns - sample.ts_ns >= self.config.min_lead_s * NS_PER_S
        )
        predicted = lead_ok and breach.confidence >= self.config.min_confidence
        if predicted:
            status = "breach_predicted"
        elif self.emitted[i]:
            status = "withdrawn"
        elif self.config.emit_all:
            status = "forecast"
        else:
            return []
        self.emitted[i] = predicted
        at = (breach.step or 1) - 1
        now_level = float(level[at]) if isinstance(level, np.ndarray) else level
        record = self._record(
            sample, fc, threshold, now_level, breach, breach_ns if predicted else None
        )
        record = record.model_copy(update={"status": status})
        out: list[Decision | PredictionSignal] = [
            Decision("predictions", self.key, record, (sample.ref,), sample.read_ns)
        ]
        was = self.active[i]
        if predicted and breach.confidence >= self.config.incident_confidence:
            self.active[i] = was or record.id
            texts = tuple(f"{a} ({r.evidence})" for r in record.recommendations for a in r.actions)
            out.append(
                self._signal("predicted", sample, i, breach.confidence, breach_ns, record.id, texts)
            )
        elif was is not None and not predicted:
            self.active[i] = None
            out.append(self._signal("withdrawn", sample, i, breach.confidence, None, was))
        return out

    def _level_path(self, fc: Forecast, i: int) -> "float | np.ndarray | None":
        """A static level, or a dynamic one's fire level along the forecast (None: warming)."""
        dynamic = self.dynamic[i]
        if dynamic is None:
            return self.bounds[i][0]
        if not dynamic.warm:
            return None
        baseline = self.forecaster.baseline_path(fc.origin_ns, len(fc.mean))
        return dynamic.fire_level(baseline)

    def _record(
        self,
        sample: MetricSample,
        fc: Forecast,
        threshold: Threshold,
        level: float,
        breach: Breach,
        breach_ns: int | None,
    ) -> Prediction:
        times = fc.times_ns()
        points = [
            ForecastPoint(ts=format_ns(int(t)), value=float(m), lower=float(lo), upper=float(hi))
            for t, m, lo, hi in zip(times, fc.mean, fc.lower, fc.upper, strict=True)
        ]
        at = (breach.step if breach.step is not None and breach_ns is not None else len(points)) - 1
        f = self.forecaster
        evidence = TrendEvidence(
            name=sample.name,
            labels=sample.labels,
            value=float(f.level or 0.0),
            trend_per_h=f.trend * 3600 * NS_PER_S / fc.step_ns,
            rising_share=f.rising,
            direction=threshold.direction,
            level=level,
            eta_s=None if breach_ns is None else (breach_ns - fc.origin_ns) / NS_PER_S,
        )
        recommendations = self.catalogue.for_forecast(evidence) if breach_ns is not None else []
        ts = format_ns(fc.origin_ns)
        return Prediction(
            id=stable_id(self.key, threshold.label, fc.origin_ns),
            series=self.key,
            name=sample.name,
            labels=sample.labels,
            ts=ts,
            threshold=ThresholdRef(
                name=threshold.label, direction=threshold.direction, level=level
            ),
            predicted_breach_at=None if breach_ns is None else format_ns(breach_ns),
            confidence=breach.confidence,
            horizon_s=self.config.horizon_s,
            interval=points[at] if points else None,
            forecast=points,
            recommendations=recommendations,
            status="forecast",
        )

    def _signal(
        self,
        kind: str,
        sample: MetricSample,
        i: int,
        confidence: float,
        breach_ns: int | None,
        prediction_id: str | None,
        recommendations: tuple[str, ...] = (),
    ) -> PredictionSignal:
        return PredictionSignal(
            kind=kind,
            series=self.key,
            name=sample.name,
            labels=sample.labels,
            ts_ns=sample.ts_ns,
            threshold=self.thresholds[i].label,
            confidence=confidence,
            breach_ns=breach_ns,
            prediction_id=prediction_id or "",
            recommendations=recommendations,
        )


class ShardPredictor:
    """The predictors of one shard's series; series no threshold selects cost a dict lookup."""

    def __init__(self, config: PredictionConfig, idle_ns: int) -> None:
        self.config = config
        self.catalogue = Catalogue.load(config.recommendations)
        self.idle_ns = idle_ns
        self.predictors: dict[str, SeriesPredictor | None] = {}
        self.last_seen_ns: dict[str, int] = {}

    def process(
        self, items: Iterable[tuple[str, MetricSample]], wall_ns: int
    ) -> list[Decision | PredictionSignal]:
        """Feed ``(series_key, sample)`` pairs in arrival order."""
        out: list[Decision | PredictionSignal] = []
        predictors = self.predictors
        for key, sample in items:
            predictor = predictors.get(key, False)
            if predictor is False:
                predictor = predictors[key] = self._new(key, sample)
            self.last_seen_ns[key] = wall_ns
            if predictor is None:
                continue
            out.extend(predictor.process(sample))
        return out

    def _new(self, key: str, sample: MetricSample) -> SeriesPredictor | None:
        chosen = [t for t in self.config.thresholds if t.matches(sample.name, sample.labels)]
        if not chosen:
            return None
        lstm = next(
            (str(s.weights) for s in self.config.lstm if s.matches(sample.name, sample.labels)),
            None,
        )
        return SeriesPredictor(key, chosen, self.config, self.catalogue, lstm)

    def evict_idle(self, wall_ns: int) -> int:
        """Forget forecasting series not seen for ``idle_ns``; returns how many were dropped."""
        cutoff = wall_ns - self.idle_ns
        stale = [key for key, seen in self.last_seen_ns.items() if seen < cutoff]
        for key in stale:
            del self.predictors[key]
            del self.last_seen_ns[key]
        return len(stale)
