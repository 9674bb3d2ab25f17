"""An online additive Holt-Winters forecaster with a small, fixed state per series.

Samples are averaged into buckets of a cadence learned from the first gaps (at least
``min_step_s``); each closed bucket updates a level, a damped trend, a daily profile
(24 hour-of-day bins, interpolated) and a weekly profile (7 day-of-week offsets). A
forecast is made every ``forecast_every_s`` of event time, not on every sample, up to
``horizon_s`` ahead; its interval comes from the quantiles of the errors of earlier
forecasts, tracked per horizon, so it is as wide as this series has earned.
"""

import math
from dataclasses import dataclass, replace

import numpy as np
from alertflow.operators.prediction.combination import ForecastCombiner
from alertflow.operators.prediction.intervals import CHECKPOINTS, ErrorQuantiles

NS_PER_S = 1_000_000_000
_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S
_HOUR_BINS = 24
_GAP_SAMPLES = 8  # gaps seen before the bucket width is fixed


@dataclass(frozen=True, slots=True)
class ForecasterSettings:
    """Smoothing and cadence of :class:`SeasonalForecaster`."""

    alpha: float = 0.05  # level (chosen by leave-one-dataset-out MASE, bench/prediction.py)
    beta: float = 0.1  # trend, as a share of the level's correction
    phi: float = 0.995  # damping per step; 0.98 forecasts better, foretells 55% of breaches
    gamma_day: float = 0.5
    gamma_week: float = 0.2
    baseline_s: float = 12 * 3600.0  # time constant of the baseline the profiles learn against
    min_step_s: float = 300.0
    horizon_s: float = 4 * 3600.0
    forecast_every_s: float = 900.0
    warmup_steps: int = 12  # closed buckets before the first forecast
    coverage: float = 0.9  # central share of errors inside the interval
    quantile_rate: float = 0.05
    huber_k: float = 4.0  # errors beyond k mean-absolute-errors are clipped (anomalies)
    # How the candidates (combination.py) are combined, by each one's recent error per
    # horizon: "sharp" (inverse error to the 6th) with the weekly ring was chosen in every
    # leave-one-group-out fold of bench/prediction.py but the simulated one (also sharp).
    combine: str = "sharp"
    combine_rate: float = 0.05
    weekly: bool = True
    lstm_weights: str | None = None  # a weights file: the LSTM joins the candidates


@dataclass(frozen=True, slots=True)
class Forecast:
    """Mean and interval at each step ahead, from ``origin_ns`` (the last closed bucket)."""

    origin_ns: int
    step_ns: int
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    trend_mean: np.ndarray | None = None  # Holt-Winters' own path, when ``mean`` combines

    def times_ns(self) -> np.ndarray:
        """The event time of each step."""
        return self.origin_ns + self.step_ns * np.arange(1, len(self.mean) + 1, dtype=np.int64)

    def at(self, seconds: float) -> float:
        """The mean forecast ``seconds`` after the origin (nearest step)."""
        step = max(1, round(seconds * NS_PER_S / self.step_ns))
        return float(self.mean[min(step, len(self.mean)) - 1])


class SeasonalForecaster:
    """Level, damped trend, daily and weekly seasonality; forecasts with intervals.

    >>> f = SeasonalForecaster(ForecasterSettings(forecast_every_s=3600))
    >>> out = [f.learn_one(10.0 + 0.01 * i, i * 300 * 10**9) for i in range(200)]
    >>> fc = [o for o in out if o is not None][-1]
    >>> step = fc.origin_ns // (300 * 10**9)  # the ramp's value 1 h after the origin:
    >>> round(fc.at(3600), 2), round(10.0 + 0.01 * (step + 12), 2)
    (11.94, 11.99)
    """

    def __init__(self, settings: ForecasterSettings | None = None) -> None:
        self.settings = settings or ForecasterSettings()
        self.step_ns: int | None = None
        self.gaps: list[int] = []
        self.last_ts_ns: int | None = None
        self.bucket_start_ns: int | None = None
        self.bucket_sum = 0.0
        self.bucket_n = 0
        self.level: float | None = None
        self.trend = 0.0
        self.day = np.zeros(_HOUR_BINS)
        self.week = np.zeros(7)
        self.mae1 = 0.0
        self.baseline: float | None = None
        self.smooth2: float | None = None
        self.rising = 0.5
        self.steps = 0
        self.last_bucket_ns = 0
        self.next_forecast_ns = 0
        self.errors = ErrorQuantiles()  # of the forecast given (the combination)
        self.trend_errors = ErrorQuantiles()  # of Holt-Winters' path alone
        self.combiner: ForecastCombiner | None = None
        # Forecasts awaiting their outcome, by target bucket: [(checkpoint, value, candidates)].
        self.pending: dict[int, list[tuple[int, float, tuple[float, ...]]]] = {}

    @property
    def horizon_steps(self) -> int:
        """How many steps ahead a forecast reaches."""
        assert self.step_ns is not None
        return max(1, math.ceil(self.settings.horizon_s * NS_PER_S / self.step_ns))

    def learn_one(self, value: float, ts_ns: int) -> Forecast | None:
        """Add one sample; return a forecast when one is due, else None."""
        if self.step_ns is None:
            return self._learn_cadence(value, ts_ns)
        start = self.bucket_start_ns
        assert start is not None
        if ts_ns < start + self.step_ns:
            if ts_ns >= start:  # an older sample belongs to a bucket already closed
                self.bucket_sum += value
                self.bucket_n += 1
            return None
        forecast = self._close_bucket() if self.bucket_n else None
        self.bucket_start_ns = ts_ns - (ts_ns - start) % self.step_ns
        self.bucket_sum, self.bucket_n = value, 1
        return forecast

    def _learn_cadence(self, value: float, ts_ns: int) -> None:
        if self.last_ts_ns is not None and ts_ns > self.last_ts_ns:
            self.gaps.append(ts_ns - self.last_ts_ns)
        self.last_ts_ns = ts_ns
        if self.bucket_start_ns is None:
            self.bucket_start_ns = ts_ns
        self.bucket_sum += value
        self.bucket_n += 1
        if len(self.gaps) >= _GAP_SAMPLES:
            median = sorted(self.gaps)[len(self.gaps) // 2]
            self.step_ns = max(median, int(self.settings.min_step_s * NS_PER_S))
            # The samples so far become the first bucket; the grid starts at the first sample.
            start = self.bucket_start_ns
            span = ts_ns - start
            if span >= self.step_ns:
                self.bucket_start_ns = start + (span // self.step_ns) * self.step_ns
                self.bucket_sum, self.bucket_n = value, 1
            self.gaps = []
        return None

    def _close_bucket(self) -> Forecast | None:
        assert self.bucket_start_ns is not None and self.step_ns is not None
        y = self.bucket_sum / self.bucket_n
        t = self.bucket_start_ns
        self._score_pending(y, t)
        clean = self._update(y, t)
        if self.combiner is None:
            st = self.settings
            self.combiner = ForecastCombiner(
                self.step_ns / NS_PER_S,
                CHECKPOINTS,
                st.combine,
                st.combine_rate,
                st.weekly,
                st.lstm_weights,
            )
        self.combiner.learn(clean, t)
        self.last_bucket_ns = t
        if self.steps >= self.settings.warmup_steps and t >= self.next_forecast_ns:
            self.next_forecast_ns = t + int(self.settings.forecast_every_s * NS_PER_S)
            return self._forecast_and_remember(t)
        return None

    def _seasonal_weights(self, ts_ns: int) -> tuple[int, int, float, int]:
        """Two neighbouring hour bins, the second's weight, and the day of week."""
        s = ts_ns / NS_PER_S
        hour = (s % _DAY_S) / 3600.0 - 0.5  # bin i is centred at i:30
        lo = math.floor(hour)
        w = hour - lo
        dow = int((s % _WEEK_S) // _DAY_S)
        return lo % _HOUR_BINS, (lo + 1) % _HOUR_BINS, w, dow

    def _seasonal(self, ts_ns: int) -> float:
        lo, hi, w, dow = self._seasonal_weights(ts_ns)
        return (1 - w) * self.day[lo] + w * self.day[hi] + self.week[dow]

    def _update(self, y: float, ts_ns: int) -> float:
        """Learn a closed bucket; returns it with an outlier clipped (what candidates remember).

        A seasonal-naive candidate fed the raw value would foretell yesterday's spike today.
        """
        st = self.settings
        if self.level is None:
            self.level = y
            self.steps = 1
            return y
        assert self.step_ns is not None
        gap = max(1, round((ts_ns - self.last_bucket_ns) / self.step_ns))
        for _ in range(gap - 1):  # missing buckets: the trend carries the level across
            self.level += st.phi * self.trend
            self.trend *= st.phi
        weights = self._seasonal_weights(ts_ns)
        lo, hi, w, dow = weights
        day = self.day
        seasonal = (1 - w) * day[lo] + w * day[hi] + self.week[dow]
        predicted = self.level + st.phi * self.trend + seasonal
        err = y - predicted
        if self.mae1 > 0:  # clip outliers so one spike does not bend the level or the profile
            bound = st.huber_k * self.mae1
            err_used = min(max(err, -bound), bound)
        else:
            err_used = err
        self.mae1 = abs(err) if self.steps == 1 else 0.95 * self.mae1 + 0.05 * min(
            abs(err), st.huber_k * self.mae1 or abs(err)
        )
        previous = self.level
        self.level = self.level + st.phi * self.trend + st.alpha * err_used
        # Share of recent buckets whose level rose: leak-like growth rises in nearly all.
        self.rising += 0.1 * ((self.level > previous) - self.rising)
        self.trend = st.phi * self.trend + st.alpha * st.beta * err_used
        self._learn_seasons(y, weights, seasonal)
        self.steps += 1
        return predicted + err_used

    def _learn_seasons(
        self, y: float, weights: tuple[int, int, float, int], seasonal: float
    ) -> None:
        """Learn the profiles from deviations from a slow baseline, not from the level.

        The level follows the series within minutes; a profile learnt from its errors
        sees only what the level failed to follow (a lagging, phase-shifted remnant).
        """
        st = self.settings
        assert self.step_ns is not None
        step_s = self.step_ns / NS_PER_S
        deseasoned = y - seasonal
        if self.baseline is None:
            self.baseline = self.smooth2 = deseasoned
        assert self.smooth2 is not None
        # Brown's double smoothing: a slow baseline that does not lag a ramp, or the
        # profiles would take the ramp for season and the trend would be learnt short.
        k = min(1.0, step_s / st.baseline_s)
        self.baseline += k * (deseasoned - self.baseline)
        self.smooth2 += k * (self.baseline - self.smooth2)
        dev = y - (2 * self.baseline - self.smooth2) - seasonal
        if self.mae1 > 0:
            bound = st.huber_k * self.mae1 * 3
            dev = min(max(dev, -bound), bound)
        # A bin sees many buckets per cycle: the gains are per cycle, spread over its buckets,
        # or a 5-minute series would correct each hour bin twelve times a day and oscillate.
        g_day = st.gamma_day * min(1.0, step_s / 3600.0)
        g_week = st.gamma_week * min(1.0, step_s / _DAY_S)
        lo, hi, w, dow = weights
        self.day[lo] += g_day * (1 - w) * dev
        self.day[hi] += g_day * w * dev
        self.week[dow] += g_week * dev
        if lo == 0 and w < 0.5:  # keep the profiles centred: the level holds the mean
            shift = float(self.day.mean() + self.week.mean())
            self.day -= self.day.mean()
            self.week -= self.week.mean()
            self.level = (self.level or 0.0) + shift
            self.baseline += shift
            self.smooth2 += shift

    def baseline_at(self, ts_ns: int) -> float | None:
        """The learned level plus season at ``ts_ns``, no trend (None before any bucket)."""
        if self.level is None:
            return None
        return self.level + self._seasonal(ts_ns)

    def baseline_path(self, origin_ns: int, steps: int) -> np.ndarray:
        """:meth:`baseline_at` for ``steps`` buckets after ``origin_ns``."""
        assert self.level is not None and self.step_ns is not None
        return self.level + self._seasonal_path(origin_ns, np.arange(1, steps + 1))

    def mean_path(self, origin_ns: int, steps: int) -> np.ndarray:
        """The point forecast for ``steps`` buckets after ``origin_ns``."""
        assert self.level is not None and self.step_ns is not None
        phi = self.settings.phi
        k = np.arange(1, steps + 1)
        damp = phi * (1 - phi**k) / (1 - phi) if phi < 1 else k.astype(float)
        return self.level + damp * self.trend + self._seasonal_path(origin_ns, k)

    def _seasonal_path(self, origin_ns: int, k: np.ndarray) -> np.ndarray:
        """:meth:`_seasonal` at ``origin + k steps``, vectorised (a forecast's main cost)."""
        assert self.step_ns is not None
        s = (origin_ns / NS_PER_S) + k * (self.step_ns / NS_PER_S)
        hour = (s % _DAY_S) / 3600.0 - 0.5
        lo = np.floor(hour)
        w = hour - lo
        lo_i = lo.astype(np.int64) % _HOUR_BINS
        hi_i = (lo_i + 1) % _HOUR_BINS
        dow = ((s % _WEEK_S) // _DAY_S).astype(np.int64)
        return (1 - w) * self.day[lo_i] + w * self.day[hi_i] + self.week[dow]

    def forecast(self, origin_ns: int | None = None) -> Forecast:
        """A forecast from the last closed bucket (or ``origin_ns``), without remembering it."""
        return self._forecast(self.last_bucket_ns if origin_ns is None else origin_ns)[0]

    def _forecast(self, origin: int) -> tuple[Forecast, np.ndarray | None]:
        """The combined forecast, and the candidates' paths it was made from (None: only one)."""
        steps = self.horizon_steps
        mean = trend = self.mean_path(origin, steps)
        paths = None
        if self.combiner is not None and self.settings.combine != "off":
            assert self.level is not None and self.step_ns is not None
            phi = self.settings.phi
            k = np.arange(1, steps + 1)
            damp = phi * (1 - phi**k) / (1 - phi) if phi < 1 else k.astype(float)
            no_trend = mean - damp * self.trend  # baseline_path without a second season lookup
            flat = self.level + self._seasonal(origin)
            paths = self.combiner.candidates(mean, no_trend, flat, origin, self.step_ns)
            mean = self.combiner.combine(paths)
        lo, hi = self.errors.interval(steps, self.mae1, self.settings.coverage)
        assert self.step_ns is not None
        fc = Forecast(origin, self.step_ns, mean, mean + lo, mean + hi)
        return (fc if paths is None else replace(fc, trend_mean=trend)), paths

    def trend_forecast(self, fc: Forecast) -> Forecast | None:
        """Holt-Winters' own path of ``fc``, with its own error quantiles (None: it is ``fc``)."""
        if fc.trend_mean is None:
            return None
        t = fc.trend_mean
        lo, hi = self.trend_errors.interval(len(t), self.mae1, self.settings.coverage)
        return Forecast(fc.origin_ns, fc.step_ns, t, t + lo, t + hi)

    def _forecast_and_remember(self, origin_ns: int) -> Forecast:
        fc, paths = self._forecast(origin_ns)
        assert self.step_ns is not None
        pending = self.pending
        steps = len(fc.mean)
        at = [c - 1 for c in CHECKPOINTS if c <= steps]
        means = fc.mean[at].tolist()
        # Plain floats: pickled in every snapshot, a tuple is a third of an array's size.
        columns = [tuple(col) for col in paths[:, at].T.tolist()] if paths is not None else None
        for i, c in enumerate(CHECKPOINTS[: len(at)]):
            candidates = columns[i] if columns is not None else ()
            pending.setdefault(origin_ns + c * self.step_ns, []).append((i, means[i], candidates))
        return fc

    def _score_pending(self, y: float, ts_ns: int) -> None:
        """Compare the forecasts that targeted this bucket with what happened."""
        due = self.pending.pop(ts_ns, None)
        if len(self.pending) > 128:  # targets that a gap skipped are never due
            for target in [t for t in self.pending if t < ts_ns]:
                del self.pending[target]
        if not due:
            return
        cover, rate = self.settings.coverage, self.settings.quantile_rate
        combiner = self.combiner
        for i, value, candidates in due:
            self.errors.add(i, y - value, self.mae1, cover, rate)
            if combiner is not None and candidates:
                combiner.score(i, y, candidates)
                # Holt-Winters' own errors: its path, shown when it foretells a breach
                self.trend_errors.add(i, y - candidates[0], self.mae1, cover, rate)
