"""The long-run distribution: how far a value lies from everything the series usually takes.

The forecasters judge a value against what the recent past predicts, so a series that
spikes often (crash counts, dependency latency, purchase rates) teaches them that spikes
are ordinary, and a level that stays up is absorbed within tens of samples. This component
keeps the series' long-run mean and variance instead (an exponentially weighted Gaussian,
rate ``max(a_dist, 1/n)``: the plain mean and variance while ``n < 1/a_dist``) and scores a
value by the Gaussian tail beyond it, as NAB's windowed-Gaussian baseline does over a
window: evidence ``-log10 Q(|x - mean| / std)``.
"""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import (
    HEADER,
    CompiledDetector,
    N,
    clip_value,
    evidence_score,
    kernel,
    no_report,
    positive,
    rate,
    report,
    require,
)

# The distribution's slots, relative to its segment of a state array.
MEAN, VAR = 0, 1
DIST_SIZE = 2
_SQRT2 = math.sqrt(2.0)


@kernel
def dist_init(dist: np.ndarray, x: float) -> None:
    """The distribution of one value."""
    dist[MEAN] = x
    dist[VAR] = 0.0


@kernel
def dist_evidence(dist: np.ndarray, x: float) -> float:
    """``-log10`` of the Gaussian upper tail beyond ``|x - mean| / std`` (0 when flat)."""
    std = math.sqrt(dist[VAR])
    if std <= 1e-12 * max(abs(dist[MEAN]), 1.0):
        return 0.0
    z = abs(x - dist[MEAN]) / std
    return -math.log10(max(0.5 * math.erfc(z / _SQRT2), 1e-300))


@kernel
def dist_learn(dist: np.ndarray, x: float, n: int, a_dist: float) -> None:
    """Learn ``x``, the ``n``-th value (Welford's update with a floor on the rate)."""
    a = max(a_dist, 1.0 / n)
    d = x - dist[MEAN]
    dist[MEAN] += a * d
    dist[VAR] = (1.0 - a) * (dist[VAR] + a * d * d)


_DIST = HEADER
_SIZE = _DIST + DIST_SIZE
_A, _WARM, _OUT = range(3)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    dist = state[_DIST:_SIZE]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        dist_init(dist, x)
        return no_report(state, 0.0)
    evidence = dist_evidence(dist, x)
    mean, std = dist[MEAN], math.sqrt(dist[VAR])
    dist_learn(dist, x, n, p[_A])
    if n <= p[_WARM]:
        return no_report(state, 0.0)
    return report(state, evidence_score(evidence, p[_OUT]), mean, 3.0 * std)


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class LongRunDistribution(CompiledDetector):
    """A value far out in the series' long-run distribution (mean ± std, rate ``a_dist``).

    Score ``1 - exp(-E / out_scale)`` for ``E = -log10 Q(|x - mean| / std)``; the band
    reported is mean ± 3 std.

    >>> det = LongRunDistribution(warmup=10)
    >>> for i in range(200):
    ...     det.learn_one(float(i % 10), i)
    >>> round(det.score_one(5.0, 200), 3), round(det.score_one(30.0, 200), 3)
    (0.03, 0.785)
    """

    name = "distribution"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(self, a_dist: float = 0.001, warmup: int = 150,
                 out_scale: float = 12.0) -> None:
        self.a_dist = a_dist
        self.warmup = warmup
        self.out_scale = out_scale
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(self.warmup >= 1, "warmup", "at least 1 sample", self.warmup)
        return np.array([rate("a_dist", self.a_dist), self.warmup,
                         positive("out_scale", self.out_scale)])

    def _state_size(self) -> int:
        return _SIZE
