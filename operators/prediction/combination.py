"""An online choice between simple forecasters, by each one's recent out-of-sample error.

No single method wins on every series: Holt-Winters with a trend foretells ramps, but on a
series whose shape repeats day to day (or week to week) yesterday's value at the same hour
forecasts four hours ahead better, and on a noisy flat series any trend is a liability.
Each forecast therefore carries every candidate's path; when the outcome of a step arrives,
each candidate's absolute error is folded into an exponentially weighted mean per horizon
checkpoint, and the next forecast takes, at each step, the candidate most accurate at that
horizon (``best``) or a blend weighted by inverse error (``weighted``, ``sharp``).

Candidates: ``holt_winters`` (level + damped trend + season), ``no_trend`` (level + season),
``flat`` (the level and the origin's season held), ``recent`` (a fast moving mean of the
buckets, held: plain exponential smoothing), ``daily_naive`` and ``weekly_naive`` (the
value one period before each target step, from a ring of slot means), and ``lstm`` where
``prediction.lstm`` gives the series a weights file of its bucket width (the daily ring is
its input history). A candidate that cannot forecast yet repeats Holt-Winters.
"""

import numpy as np
from alertflow.operators.prediction import lstm

NS_PER_S = 1_000_000_000
CANDIDATES = ("holt_winters", "no_trend", "flat", "recent", "daily_naive", "weekly_naive", "lstm")
# Inverse-error weights to these powers: 2 blends the close ones, 6 nearly picks the best.
_POWERS = {"weighted": 2.0, "sharp": 6.0}
_RECENT_RATE = 0.3  # a fast mean of the raw buckets: a random walk's best guess, unseasoned
_DAY_S = 86_400
# A day of 5-minute buckets; a week is kept in 30-minute slot means (336), so a series'
# rings stay ~2.5 KB: state is snapshotted and held per forecast series.
_MAX_SLOTS = 336


class SeasonalMemory:
    """The last period of a series in slots (slot mean when a slot spans several buckets).

    >>> m = SeasonalMemory(period_s=4 * 300, step_s=300)
    >>> for i in range(5):
    ...     m.learn(float(i), i * 300 * 10**9)
    >>> m.path(4 * 300 * 10**9, 300 * 10**9, 2).tolist()  # one period earlier: 1.0, 2.0
    [1.0, 2.0]
    """

    def __init__(self, period_s: float, step_s: float) -> None:
        self.slots = max(1, min(_MAX_SLOTS, round(period_s / step_s)))
        self.slot_ns = int(period_s * NS_PER_S) // self.slots
        # float32: the ring is the largest state a series keeps; 7 digits are plenty.
        self.values = np.full(self.slots, np.nan, dtype=np.float32)
        self.current = -1
        self.total = 0.0
        self.count = 0

    def learn(self, y: float, ts_ns: int) -> None:
        """Add a closed bucket's mean to its slot; a slot is written when the next one begins.

        Until then the slot keeps last period's value, which a forecast into it needs.
        """
        slot = ts_ns // self.slot_ns
        if slot != self.current:
            if self.count:
                self.values[self.current % self.slots] = self.total / self.count
            self.current, self.total, self.count = slot, 0.0, 0
        self.total += y
        self.count += 1

    def history(self) -> np.ndarray:
        """The last period in time order (NaN where unseen), the slot being filled last."""
        i = self.current % self.slots
        now = self.total / self.count if self.count else np.nan
        return np.concatenate((self.values[i + 1 :], self.values[:i], [now])).astype(float)

    def path(self, origin_ns: int, step_ns: int, steps: int) -> np.ndarray:
        """The value one period before each of ``steps`` buckets after ``origin_ns`` (NaN: none)."""
        t = origin_ns + step_ns * np.arange(1, steps + 1, dtype=np.int64)
        return self.values[(t // self.slot_ns) % self.slots].astype(float)


class ForecastCombiner:
    """Candidate forecasts' errors per checkpoint, and the combination they earn.

    ``mode``: ``best`` (the lowest recent error at each horizon), ``weighted`` / ``sharp``
    (weights proportional to error to the power -2 / -6) or ``off`` (Holt-Winters alone).
    """

    def __init__(
        self,
        step_s: float,
        checkpoints: tuple[int, ...],
        mode: str,
        rate: float,
        weekly: bool,
        lstm_weights: str | None = None,
    ) -> None:
        self.mode = mode
        self.rate = rate
        self.checkpoints = checkpoints
        self.daily = SeasonalMemory(_DAY_S, step_s)
        self.weekly = SeasonalMemory(7 * _DAY_S, step_s) if weekly else None
        # Plain lists: scoring runs a few times per bucket, numpy's per-call cost dominates.
        self.mae = [[0.0] * len(CANDIDATES) for _ in checkpoints]
        self.seen = [0] * len(checkpoints)
        self.weights: np.ndarray | None = None  # (checkpoints, candidates), None: Holt-Winters
        self.stale = False  # errors changed since the weights were computed
        self.step_index: tuple[int, np.ndarray] | None = None  # (steps, checkpoint per step)
        self.recent: float | None = None
        # The LSTM reads the daily ring as its history: only at the width it was trained on.
        self.lstm = lstm_weights
        if lstm_weights is not None:
            w = lstm.cached(lstm_weights)
            if w.step_s != round(step_s) or self.daily.slots * w.step_s != _DAY_S:
                self.lstm = None

    def learn(self, y: float, ts_ns: int) -> None:
        """Remember a closed bucket for the seasonal-naive and recent candidates."""
        self.recent = y if self.recent is None else self.recent + _RECENT_RATE * (y - self.recent)
        self.daily.learn(y, ts_ns)
        if self.weekly is not None:
            self.weekly.learn(y, ts_ns)

    def candidates(
        self, hw: np.ndarray, no_trend: np.ndarray, flat: float, origin_ns: int, step_ns: int
    ) -> np.ndarray:
        """The candidates' paths, one row each; one that cannot forecast repeats ``hw``."""
        steps = len(hw)
        out = np.empty((len(CANDIDATES), steps))
        out[0], out[1], out[2] = hw, no_trend, flat
        out[3] = hw if self.recent is None else self.recent
        out[4] = self.daily.path(origin_ns, step_ns, steps)
        out[5] = self.weekly.path(origin_ns, step_ns, steps) if self.weekly else out[4]
        out[6] = self._lstm(steps, hw)
        for row in (4, 5):  # the rings' unseen slots
            bad = np.isnan(out[row])
            if bad.any():
                out[row, bad] = hw[bad]
        return out

    def _lstm(self, steps: int, hw: np.ndarray) -> np.ndarray:
        """The LSTM's path (``hw`` where it has none: not selected, or a day not yet seen)."""
        if self.lstm is None:
            return hw
        history = self.daily.history()
        if np.isnan(history).any():
            return hw
        path = lstm.forecast(lstm.cached(self.lstm), history)[0]
        out = hw.copy()
        n = min(steps, len(path))
        out[:n] = path[:n]
        return out

    def combine(self, paths: np.ndarray) -> np.ndarray:
        """The forecast: each step's candidates weighted by their checkpoint's weights."""
        if self.stale:
            self._reweigh()
        if self.weights is None:
            return paths[0]
        steps = paths.shape[1]
        if self.step_index is None or self.step_index[0] != steps:
            # Step k uses the first checkpoint at or beyond it, but none past the horizon:
            # only checkpoints within it are ever scored (a 4-step horizon's last one is 3).
            within = max(1, int(np.searchsorted(self.checkpoints, steps, side="right")))
            k = np.arange(1, steps + 1)
            self.step_index = (steps, np.minimum(np.searchsorted(self.checkpoints, k), within - 1))
        return np.einsum("ks,sk->k", self.weights[self.step_index[1]], paths)

    def score(self, i: int, y: float, values: tuple[float, ...]) -> None:
        """Fold the outcome ``y`` of checkpoint ``i``'s candidate ``values`` into their errors."""
        if self.seen[i] == 0:
            self.mae[i] = [abs(v - y) for v in values]
        else:
            r = self.rate
            old = self.mae[i]
            self.mae[i] = [m + r * (abs(v - y) - m) for m, v in zip(old, values, strict=True)]
        self.seen[i] += 1
        if self.mode != "off" and self.seen[i] >= 5:
            self.stale = True

    def _reweigh(self) -> None:
        """Weights from the errors, once per forecast (not per scored outcome)."""
        self.stale = False
        mae = np.array(self.mae)
        ready = np.array(self.seen) >= 5
        weights = np.zeros_like(mae)
        weights[:, 0] = 1.0  # a checkpoint not yet scored enough keeps Holt-Winters
        if self.mode == "best":
            rows = np.zeros_like(mae)
            rows[np.arange(len(mae)), np.argmin(mae, axis=1)] = 1.0
        else:  # relative errors: the power cannot overflow, whatever the series' unit
            ratio = np.maximum(mae / np.maximum(mae.min(axis=1, keepdims=True), 1e-300), 1.0)
            rows = ratio ** -(_POWERS[self.mode])
            rows /= rows.sum(axis=1, keepdims=True)
        weights[ready] = rows[ready]
        self.weights = weights
