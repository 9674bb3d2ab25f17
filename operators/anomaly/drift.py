"""A slow, steady move of the level (a disk filling, a leak): the drift channel, 5 floats.

Each forecast follows a slow drift within a few dozen samples, and the range breaks only
once the values leave everything seen, often days later. This channel compares the mean
of about the last day (two exponential averages of half a day in a row: a daily cycle
passes through them at under a tenth of its size) with the mean of the last week; their
difference is standardised by its own long-run spread (a daily cycle and ordinary weeks
make it move too, so "usual" is the series' own), and the evidence is
the two-sided Gaussian tail of that, in log10 units like the likelihood's. Nothing is
reported before ``HISTORY_S`` of data, or without a clock.
"""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import DAY_S, kernel

# Slots, relative to the channel's segment: the half-day mean, the day's mean (the half-day
# mean's own half-day mean), the week's mean, the mean square of the day's minus the week's,
# and when the series began (epoch seconds).
HALF, FAST, SLOW, SPREAD, T0 = range(5)
DRIFT_SIZE = 5
FAST_S, SLOW_S = DAY_S / 2, 7 * DAY_S
HISTORY_S = 3 * DAY_S
_CLIP = 2.0  # a difference beyond this many spreads joins the spread only at this size
_SQRT2 = math.sqrt(2.0)


@kernel
def drift_init(dr: np.ndarray, x: float, t: float) -> None:
    """Both means at ``x``, no spread yet, the history starting at ``t``."""
    dr[HALF] = x
    dr[FAST] = x
    dr[SLOW] = x
    dr[SPREAD] = 0.0
    dr[T0] = t


@kernel
def drift_restart(dr: np.ndarray, level: float) -> None:
    """A level shift: every mean starts again at the new ``level`` (a step is no drift)."""
    dr[HALF] = level
    dr[FAST] = level
    dr[SLOW] = level


@kernel
def drift_learn(dr: np.ndarray, x: float, t: float, n: int, interval: float,
                floor: float) -> float:
    """Learn the ``n``-th value ``x`` at ``t``; the evidence (log10) of a drift, before it.

    ``floor`` keeps the spread away from 0 (the series' resolution or level floor): a flat
    series that moves by one step is not infinitely surprising.
    """
    if interval <= 0.0:
        return 0.0
    a_fast = max(1.0 / n, min(1.0, interval / FAST_S))
    a_slow = max(1.0 / n, min(1.0, interval / SLOW_S))
    dr[HALF] += a_fast * (x - dr[HALF])
    dr[FAST] += a_fast * (dr[HALF] - dr[FAST])
    dr[SLOW] += a_slow * (x - dr[SLOW])
    d = dr[FAST] - dr[SLOW]
    spread = math.sqrt(max(dr[SPREAD], floor * floor))
    excess = abs(d) / spread
    young = t - dr[T0] < HISTORY_S
    # Once the spread is known, a drift must not become its own normal within days.
    clipped = abs(d) if young else min(abs(d), _CLIP * spread)
    dr[SPREAD] += a_slow * (clipped * clipped - dr[SPREAD])
    if young or not math.isfinite(excess):
        return 0.0
    return -math.log10(max(math.erfc(excess / _SQRT2), 1e-300))
