"""HTM-style anomaly likelihood: how unusual the recent mean raw score is, in log10 units."""

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
    require,
)

# The calibrator's slots, relative to its segment of a state array; the raw scores follow.
RI, RSUM, LM, LV = 0, 1, 2, 3  # next ring position, ring sum, long-run mean and variance
RAWS = 4
_SQRT2 = math.sqrt(2.0)


def likelihood_size(window: int) -> int:
    """Length of the calibrator's segment."""
    return RAWS + window


@kernel
def excess_then_learn(stats: np.ndarray, mean_at: int, var_at: int, avg: float,
                      rate: float) -> float:
    """``avg``'s standardised excess over the long-run mean and variance, then learn it."""
    excess = (avg - stats[mean_at]) / max(math.sqrt(stats[var_at]), 1e-3)
    dm = avg - stats[mean_at]
    stats[mean_at] += rate * dm
    stats[var_at] += rate * (dm * dm - stats[var_at])
    return excess


@kernel
def likelihood_learn(lik: np.ndarray, z: float, n: int, zcap: float, a_lik: float,
                     span: int = 0) -> float:
    """Learn raw score ``z`` (the ``n``-th); returns the recent mean's standardised excess.

    The mean is over the last ``span`` raw scores (``1 <= span <= window``), or over the
    whole ring when ``span`` is 0 or not smaller. The excess is measured against the
    long-run statistics *before* this sample updates them; letting an anomaly inflate the
    variance afterwards is what lets a new regime be absorbed instead of alarming for ever.
    """
    window = lik.size - RAWS
    raw = min(z, zcap)
    ri = int(lik[RI])
    lik[RSUM] += raw - lik[RAWS + ri]
    lik[RAWS + ri] = raw
    lik[RI] = (ri + 1) % window
    if 0 < span < window:
        total = 0.0
        for back in range(span):
            total += lik[RAWS + (ri - back) % window]
        avg = total / span
    else:
        avg = lik[RSUM] / window
    return excess_then_learn(lik, LM, LV, avg, max(a_lik, 1.0 / n))


@kernel
def likelihood_evidence(excess: float) -> float:
    """``-log10`` of the Gaussian upper tail beyond ``excess`` (0 when not above the mean)."""
    if excess <= 0.0:
        return 0.0
    return -math.log10(max(0.5 * math.erfc(excess / _SQRT2), 1e-300))


_LIK = HEADER
_WINDOW, _ZCAP, _A_LIK, _WARM, _OUT = range(5)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    n = int(state[N]) + 1
    state[N] = n
    excess = likelihood_learn(state[_LIK:], x, n, p[_ZCAP], p[_A_LIK])
    if n <= p[_WARM]:
        return no_report(state, 0.0)
    return no_report(state, evidence_score(likelihood_evidence(excess), p[_OUT]))


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class AnomalyLikelihood(CompiledDetector):
    """Calibrates a raw anomaly score (such as a robust z) into evidence, as HTM does.

    Feed it raw scores, not the metric: each is capped at ``zcap``, the mean of the last
    ``lik_window`` is compared with its own long-run Gaussian (EW mean and variance, rate
    ``a_lik``), and the evidence is ``E = -log10`` of the upper tail probability. Averaging
    makes a run of moderate surprises as telling as one large one; the long-run statistics
    make "usual" relative to the series. Score: ``1 - exp(-E / out_scale)``.

    >>> det = AnomalyLikelihood()
    >>> for i in range(500):
    ...     det.learn_one((i * 37 % 101) / 50, i)  # ordinary surprises, 0 to 2
    >>> round(det.score_one(1.0, 500), 3), round(det.score_one(5.0, 500), 3)
    (0.067, 0.35)
    >>> [round(det.update(5.0, 500 + i), 3) for i in range(3)]  # a run of them
    [0.35, 0.62, 0.86]
    """

    name = "likelihood"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(
        self,
        lik_window: int = 10,
        zcap: float = 5.0,
        a_lik: float = 0.001,
        warmup: int = 150,
        out_scale: float = 12.0,
    ) -> None:
        self.lik_window = lik_window
        self.zcap = zcap
        self.a_lik = a_lik
        self.warmup = warmup
        self.out_scale = out_scale
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(1 <= self.lik_window <= 1000, "lik_window", "1 to 1000 samples",
                self.lik_window)
        require(self.warmup >= 1, "warmup", "at least 1 sample", self.warmup)
        return np.array([
            self.lik_window, positive("zcap", self.zcap), rate("a_lik", self.a_lik),
            self.warmup, positive("out_scale", self.out_scale),
        ])

    def _state_size(self) -> int:
        return _LIK + likelihood_size(self.lik_window)


# A second, shorter scale's own long-run mean and variance (see likelihood_short).
SHORT_LM, SHORT_LV = 0, 1
SHORT_SIZE = 2


@kernel
def likelihood_short(lik: np.ndarray, stats: np.ndarray, span: int, n: int,
                     a_lik: float) -> float:
    """The standardised excess of the mean of the last ``span`` raw scores in the ring.

    Call after :func:`likelihood_learn` stored the sample. ``stats`` holds this scale's own
    long-run mean and variance: a one-sample spike and a ten-sample drift are each judged
    against how such means usually vary, so neither scale dilutes the other.
    """
    window = lik.size - RAWS
    ri = int(lik[RI])
    span = max(1, min(span, window))
    total = 0.0
    j = ri
    for _ in range(span):  # newest first, as in likelihood_learn; no modulo in the loop
        j = j - 1 if j > 0 else window - 1
        total += lik[RAWS + j]
    avg = total / span
    return excess_then_learn(stats, SHORT_LM, SHORT_LV, avg, max(a_lik, 1.0 / n))
