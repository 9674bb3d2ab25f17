"""Robust level: EWMA location and EW mean absolute deviation, Huber-clipped, scale floored."""

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

# The level's slots, relative to its segment of a state array.
M, S, LS = 0, 1, 2  # location, short-term MAD, long-run MAD (for the floor)
LEVEL_SIZE = 3


@kernel
def level_init(level: np.ndarray, x: float) -> None:
    """Start the level at the first value."""
    level[M] = x


@kernel
def level_floor(level: np.ndarray, floor_frac: float) -> float:
    """The smallest scale any model of this series may use.

    A fraction of the long-run MAD keeps a quiet stretch from shrinking the scale to
    nothing; the relative and absolute terms make flat and near-zero series safe.
    """
    return max(floor_frac * level[LS], 1e-9, 1e-6 * abs(level[M]))


@kernel
def level_learn(
    level: np.ndarray, x: float, n: int, scale: float,
    a_loc: float, a_sc: float, a_lsc: float, huber: float,
) -> float:
    """Learn ``x`` (the ``n``-th sample, judged at ``scale``); returns ``x - m`` before it."""
    d = x - level[M]
    lim = huber * scale if n > UNCLIPPED else math.inf
    dc = max(-lim, min(lim, d))
    # Early on a rate of 1/n is a plain running mean: faster than a small rate from zero.
    level[M] += max(a_loc, 1.0 / n) * dc
    level[S] += max(a_sc, 1.0 / n) * (min(abs(d), lim) - level[S])
    level[LS] += max(a_lsc, 1.0 / n) * (abs(d) - level[LS])
    return d


_LEVEL = HEADER
_SIZE = HEADER + LEVEL_SIZE
_A_LOC, _A_SC, _A_LSC, _FLOOR, _HUBER, _WARM, _ZT = range(7)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    level = state[_LEVEL:_SIZE]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        level_init(level, x)
        return no_report(state, 0.0)
    scale = max(level[S], level_floor(level, p[_FLOOR]))
    m = level[M]
    z = abs(x - m) / scale
    level_learn(level, x, n, scale, p[_A_LOC], p[_A_SC], p[_A_LSC], p[_HUBER])
    if n <= p[_WARM]:
        return no_report(state, 0.0)
    return report(state, logistic_score(z, p[_ZT]), m, p[_ZT] * scale)


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class RobustEWMA(CompiledDetector):
    """A robust level: how far a value is from the series' recent level, in scales.

    The location moves by at most ``huber`` scales per sample and the scale (EW mean
    absolute deviation, rate ``a_sc``) counts deviations only up to ``huber`` scales, so
    one spike neither drags the level nor widens the band for the points after it. The
    scale never drops below ``floor_frac`` times the long-run MAD (rate ``a_lsc``), so a
    quiet stretch does not make the next ordinary wiggle look enormous. The score is a
    logistic of ``z - z_threshold`` (``z`` in MAD units): 0.5 at the threshold.

    >>> det = RobustEWMA(warmup=10)
    >>> for i in range(200):
    ...     det.learn_one(10.0 + (i % 5) * 0.1, i)
    >>> round(det.score_one(10.2, 200), 3), round(det.score_one(30.0, 200), 3)
    (0.0, 1.0)
    """

    name = "robust_ewma"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(
        self,
        a_loc: float = 0.02,
        a_sc: float = 0.02,
        a_lsc: float = 0.002,
        floor_frac: float = 0.2,
        huber: float = 3.0,
        warmup: int = 30,
        z_threshold: float = 4.0,
    ) -> None:
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
            self.floor_frac, positive("huber", self.huber), self.warmup,
            positive("z_threshold", self.z_threshold),
        ])

    def _state_size(self) -> int:
        return _SIZE

    @property
    def level(self) -> float:
        """The current location."""
        return float(self.state[_LEVEL + M])
