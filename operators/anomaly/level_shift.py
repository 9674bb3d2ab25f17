"""Two-sided CUSUM on the robust level's residual: a level shift becomes the new normal."""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import (
    HEADER,
    UNCLIPPED,
    CompiledDetector,
    N,
    clip_value,
    kernel,
    no_report,
    positive,
    rate,
    require,
)
from alertflow.operators.anomaly.robust_ewma import (
    LEVEL_SIZE,
    M,
    S,
    level_floor,
    level_init,
    level_learn,
)

# The CUSUM's slots, relative to its segment of a state array; the recent values follow.
CP, CN, VI = 0, 1, 2  # upper and lower sums, next ring position
RECENT = 3
RING = 16  # recent values; their median is where a re-learnt level starts
SHIFT_SIZE = RECENT + RING


@kernel
def shift_init(shift: np.ndarray, x: float) -> None:
    """Fill the ring of recent values with the first value."""
    shift[RECENT:] = x


@kernel
def shift_statistic(shift: np.ndarray, u: float, k: float) -> float:
    """The larger CUSUM sum once the standardised residual ``u`` is added."""
    return max(0.0, shift[CP] + u - k, shift[CN] - u - k)


@kernel
def shift_learn(shift: np.ndarray, x: float, u: float, n: int, k: float, h: float) -> float:
    """Learn ``x`` (standardised residual ``u``); on an alarm, the level to re-learn from.

    Returns NaN when there is no alarm, otherwise the median of the last 16 values.
    """
    vi = int(shift[VI])
    shift[RECENT + vi] = x
    shift[VI] = (vi + 1) % RING
    if n <= UNCLIPPED:
        return math.nan
    cp = max(0.0, shift[CP] + u - k)
    cn = max(0.0, shift[CN] - u - k)
    if cp > h or cn > h:
        shift[CP] = 0.0
        shift[CN] = 0.0
        return np.sort(shift[RECENT:])[RING // 2]
    shift[CP] = cp
    shift[CN] = cn
    return math.nan


_LEVEL = HEADER
_SHIFT = _LEVEL + LEVEL_SIZE
_SIZE = _SHIFT + SHIFT_SIZE
_A_LOC, _A_SC, _A_LSC, _FLOOR, _HUBER, _K, _H = range(7)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    level = state[_LEVEL:_SHIFT]
    shift = state[_SHIFT:_SIZE]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        level_init(level, x)
        shift_init(shift, x)
        return no_report(state, 0.0)
    scale = max(level[S], level_floor(level, p[_FLOOR]))
    u = (x - level[M]) / scale
    g = shift_statistic(shift, u, p[_K])
    level_learn(level, x, n, scale, p[_A_LOC], p[_A_SC], p[_A_LSC], p[_HUBER])
    restart = shift_learn(shift, x, u, n, p[_K], p[_H])
    if restart == restart:
        level[M] = restart
    if n <= UNCLIPPED:
        return no_report(state, 0.0)
    return no_report(state, g / (g + p[_H]))


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class LevelShift(CompiledDetector):
    """A sustained shift of the level, found by a two-sided CUSUM and then learnt.

    The CUSUM sums the robust level's standardised residual beyond an allowance of
    ``cusum_k`` scales; past ``cusum_h`` it alarms, and the level restarts from the median
    of the last 16 values, so a shift alarms for a few samples and then is normal. The
    score is ``g / (g + cusum_h)`` for the larger sum ``g``: 0.5 exactly at the alarm.
    It gives no expectation (a CUSUM judges a run, not one value).

    >>> det = LevelShift()
    >>> for i in range(300):
    ...     det.learn_one(10.0 + (i % 5) * 0.1, i)
    >>> scores = [det.update(20.0 + (i % 5) * 0.1, 300 + i) for i in range(60)]
    >>> max(scores) > 0.5, scores[-1] < 0.1
    (True, True)
    """

    name = "level_shift"
    _step = staticmethod(_step)
    _run = staticmethod(_run)
    warmup = UNCLIPPED

    def __init__(
        self,
        cusum_k: float = 0.5,
        cusum_h: float = 12.0,
        a_loc: float = 0.02,
        a_sc: float = 0.02,
        a_lsc: float = 0.002,
        floor_frac: float = 0.2,
        huber: float = 3.0,
    ) -> None:
        self.cusum_k = cusum_k
        self.cusum_h = cusum_h
        self.a_loc = a_loc
        self.a_sc = a_sc
        self.a_lsc = a_lsc
        self.floor_frac = floor_frac
        self.huber = huber
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(self.cusum_k >= 0, "cusum_k", "an allowance >= 0", self.cusum_k)
        require(self.floor_frac >= 0, "floor_frac", "a fraction >= 0", self.floor_frac)
        return np.array([
            rate("a_loc", self.a_loc), rate("a_sc", self.a_sc), rate("a_lsc", self.a_lsc),
            self.floor_frac, positive("huber", self.huber), self.cusum_k,
            positive("cusum_h", self.cusum_h),
        ])

    def _state_size(self) -> int:
        return _SIZE
