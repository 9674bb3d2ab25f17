"""Holt's linear forecaster: level plus trend, with a robust residual scale."""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import (
    HEADER,
    UNCLIPPED,
    CompiledDetector,
    N,
    clip_value,
    kernel,
    logistic_score,
    no_report,
    positive,
    rate,
    report,
    require,
)
from alertflow.operators.anomaly.robust_ewma import (
    LEVEL_SIZE,
    S,
    level_floor,
    level_init,
    level_learn,
)

# Holt's slots, relative to its segment of a state array.
L, B, HS = 0, 1, 2  # level, trend, EW MAD of the one-step residual
HOLT_SIZE = 3


@kernel
def holt_init(holt: np.ndarray, x: float) -> None:
    """Start the level at the first value, with no trend."""
    holt[L] = x


@kernel
def holt_forecast(holt: np.ndarray) -> float:
    """The one-step-ahead forecast."""
    return holt[L] + holt[B]


@kernel
def holt_learn(
    holt: np.ndarray, x: float, n: int, scale: float,
    holt_a: float, holt_b: float, a_sc: float, huber: float,
) -> None:
    """Learn ``x`` (the ``n``-th sample, judged at ``scale``), the residual Huber-clipped."""
    fh = holt[L] + holt[B]
    e = x - fh
    lim = huber * scale if n > UNCLIPPED else math.inf
    ec = max(-lim, min(lim, e))
    previous = holt[L]
    holt[L] = fh + holt_a * ec
    holt[B] += holt_b * (holt[L] - previous - holt[B])
    holt[HS] += max(a_sc, 1.0 / n) * (min(abs(e), lim) - holt[HS])


# The standalone detector keeps a robust level beside Holt's for the scale floor.
_LEVEL = HEADER
_HOLT = _LEVEL + LEVEL_SIZE
_SIZE = _HOLT + HOLT_SIZE
_A_LOC, _A_SC, _A_LSC, _FLOOR, _HUBER, _HOLT_A, _HOLT_B, _WARM, _ZT = range(9)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    level = state[_LEVEL:_HOLT]
    holt = state[_HOLT:_SIZE]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        level_init(level, x)
        holt_init(holt, x)
        return no_report(state, 0.0)
    floor = level_floor(level, p[_FLOOR])
    level_scale = max(level[S], floor)
    forecast = holt_forecast(holt)
    scale = max(holt[HS], floor)
    z = abs(x - forecast) / scale
    level_learn(level, x, n, level_scale, p[_A_LOC], p[_A_SC], p[_A_LSC], p[_HUBER])
    holt_learn(holt, x, n, scale, p[_HOLT_A], p[_HOLT_B], p[_A_SC], p[_HUBER])
    if n <= p[_WARM]:
        return no_report(state, 0.0)
    return report(state, logistic_score(z, p[_ZT]), forecast, p[_ZT] * scale)


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class HoltForecaster(CompiledDetector):
    """How far a value is from Holt's one-step forecast (level + trend), in scales.

    Unlike a plain level, a steady ramp is expected, not surprising. The residual's scale
    is an EW mean absolute deviation (rate ``a_sc``), updates are Huber-clipped at
    ``huber`` scales, and the scale is floored by a robust level's long-run MAD
    (``floor_frac``). Score: a logistic of ``z - z_threshold``, 0.5 at the threshold.

    >>> det = HoltForecaster(warmup=10)
    >>> scores = [det.update(100.0 + 0.5 * i + (i % 3) * 0.1, i) for i in range(300)]
    >>> round(det.score_one(250.2, 300), 3), round(det.score_one(290.0, 300), 3)
    (0.0, 1.0)
    """

    name = "holt"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(
        self,
        holt_a: float = 0.1,
        holt_b: float = 0.01,
        a_loc: float = 0.02,
        a_sc: float = 0.02,
        a_lsc: float = 0.002,
        floor_frac: float = 0.2,
        huber: float = 3.0,
        warmup: int = 30,
        z_threshold: float = 4.0,
    ) -> None:
        self.holt_a = holt_a
        self.holt_b = holt_b
        self.a_loc = a_loc
        self.a_sc = a_sc
        self.a_lsc = a_lsc
        self.floor_frac = floor_frac
        self.huber = huber
        self.warmup = warmup
        self.z_threshold = z_threshold
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(self.warmup >= 1, "warmup", "at least 1 sample", self.warmup)
        require(self.floor_frac >= 0, "floor_frac", "a fraction >= 0", self.floor_frac)
        return np.array([
            rate("a_loc", self.a_loc), rate("a_sc", self.a_sc), rate("a_lsc", self.a_lsc),
            self.floor_frac, positive("huber", self.huber), rate("holt_a", self.holt_a),
            rate("holt_b", self.holt_b), self.warmup, positive("z_threshold", self.z_threshold),
        ])

    def _state_size(self) -> int:
        return _SIZE
