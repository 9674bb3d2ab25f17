"""The range ("spatial") detector: a value beyond everything the series has shown."""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import (
    HEADER,
    CompiledDetector,
    N,
    clip_value,
    kernel,
    no_report,
    positive,
    report,
    require,
)

# The range's slots, relative to its segment of a state array.
LO, HI = 0, 1
RANGE_SIZE = 2


@kernel
def range_init(rng: np.ndarray, x: float) -> None:
    """The range of one value."""
    rng[LO] = x
    rng[HI] = x


@kernel
def range_excess(rng: np.ndarray, x: float) -> float:
    """How far ``x`` lies beyond the range, as a fraction of its width (0 inside or flat)."""
    width = rng[HI] - rng[LO]
    if width <= 0.0:
        return 0.0
    return max(0.0, max(x - rng[HI], rng[LO] - x) / width)


@kernel
def range_fired(rng: np.ndarray, x: float, tol: float) -> bool:
    """Whether ``x`` lies more than ``tol`` of the range's width beyond it."""
    width = rng[HI] - rng[LO]
    return width > 0.0 and max(x - rng[HI], rng[LO] - x) > tol * width


@kernel
def range_learn(rng: np.ndarray, x: float) -> None:
    """Widen the range to ``x``."""
    rng[LO] = min(rng[LO], x)
    rng[HI] = max(rng[HI], x)


_RANGE = HEADER
_SIZE = _RANGE + RANGE_SIZE
_TOL, _WARM = range(2)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    rng = state[_RANGE:_SIZE]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        range_init(rng, x)
        return no_report(state, 0.0)
    excess = range_excess(rng, x)
    tol = p[_TOL]
    width = rng[HI] - rng[LO]
    middle = 0.5 * (rng[LO] + rng[HI])
    range_learn(rng, x)
    if n <= p[_WARM]:
        return no_report(state, 0.0)
    return report(state, excess / (excess + tol), middle, (0.5 + tol) * width)


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class RangeDetector(CompiledDetector):
    """A value outside ``[lo - tol·R, hi + tol·R]``, the range of everything seen so far.

    ``R = hi - lo`` and ``tol = range_tol``. Numenta's NAB detector uses the same idea:
    many real incidents are simply values the series has never reached. The score is
    ``e / (e + range_tol)`` for an excess ``e`` beyond the range in units of ``R``, so
    0.5 exactly at the tolerance, 0 inside the range.

    >>> det = RangeDetector(warmup=10)
    >>> for i in range(100):
    ...     det.learn_one(float(i % 10), i)
    >>> det.score_one(5.0, 100), round(det.score_one(9.0 * 1.5, 100), 3)
    (0.0, 0.909)
    """

    name = "range"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(self, range_tol: float = 0.05, warmup: int = 150) -> None:
        self.range_tol = range_tol
        self.warmup = warmup
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(self.warmup >= 1, "warmup", "at least 1 sample", self.warmup)
        return np.array([positive("range_tol", self.range_tol), self.warmup])

    def _state_size(self) -> int:
        return _SIZE
