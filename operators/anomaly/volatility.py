"""A change of spread at the same level: the variance (volatility) channel, in 4 floats.

A service that starts flapping, or an oscillation that stops, leaves the mean where it was;
the forecasts' own scales follow it within a few dozen samples, so their z never grows.
This channel compares a recent mean absolute residual (over ``span_s`` seconds of the
series' sampling) with a long-run one (20 times longer), on a log scale; the log ratio's
own mean and variance make "usual" relative to the series, and the evidence is the
two-sided Gaussian tail of its standardised excess, in log10 units like the likelihood's.
"""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import kernel

# Slots, relative to the channel's segment: recent and long-run mean |residual|, then the
# log ratio's running mean and variance.
RECENT, LONG, LM, LV = range(4)
VOL_SIZE = 4
_LONGER = 20.0
_SQRT2 = math.sqrt(2.0)


@kernel
def volatility_learn(vol: np.ndarray, residual: float, cap: float, floor: float, n: int,
                     interval: float, span_s: float) -> float:
    """Learn ``|residual|`` (the ``n``-th, capped at ``cap``); returns the evidence (log10).

    ``floor`` keeps both means away from 0 (a flat stretch is not infinitely calm). The
    evidence is measured against the statistics before this sample updates them.
    """
    r = min(abs(residual), cap)
    a = 1.0 / n
    if interval > 0.0 and span_s > 0.0:
        a = max(a, min(1.0, interval / span_s))
    vol[RECENT] += a * (r - vol[RECENT])
    al = max(1.0 / n, a / _LONGER)
    vol[LONG] += al * (r - vol[LONG])
    ratio = math.log(max(vol[RECENT], floor) / max(vol[LONG], floor))
    excess = abs(ratio - vol[LM]) / max(math.sqrt(vol[LV]), 1e-3)
    dm = ratio - vol[LM]
    vol[LM] += al * dm
    vol[LV] += al * (dm * dm - vol[LV])
    return -math.log10(max(math.erfc(excess / _SQRT2), 1e-300))
