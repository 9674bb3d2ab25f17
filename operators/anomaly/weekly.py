"""Day-of-week offsets: the weekly part of a series' normal, learned online in 10 floats.

Traffic differs by weekday (weekends, a Monday batch) in a way a daily profile cannot hold.
Seven offsets, one per UTC weekday, learn what the ensemble's forecast misses on that day;
once they measurably help they are subtracted before every forecast model sees the value
(an additive decomposition: the models then learn the week-free series). They help when,
after two weeks of history, their absolute error is below ``1 - week_strength`` of the
error without them (both exponential averages), the same test the daily profile passes.

A full week of hour-of-week bins would need 168 floats per series (more than the whole
ensemble's budget); weekday offsets on top of the daily profile catch the common case of
a lower weekend at a cost of 10.
"""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import DAY_S, kernel

# Slots, relative to the weekly segment: first time seen, EW |error| with and without the
# offsets, then the seven offsets.
T0, ERR, BASE = 0, 1, 2
OFFSETS = 3
WEEK_SIZE = OFFSETS + 7
_HISTORY_S = 14 * DAY_S


@kernel
def weekday(t: float) -> int:
    """The UTC weekday of ``t`` (epoch seconds), 0 = Monday."""
    return (int(t // DAY_S) + 3) % 7  # 1970-01-01 was a Thursday


@kernel
def weekly_init(wk: np.ndarray, t: float) -> None:
    """Start the history at ``t``, every offset at 0."""
    wk[:] = 0.0
    wk[T0] = t


@kernel
def weekly_offset(wk: np.ndarray, t: float, week_strength: float) -> float:
    """The offset to take off a value at ``t``: its weekday's, once the offsets help, else 0."""
    if t - wk[T0] <= _HISTORY_S or wk[BASE] <= 0.0:
        return 0.0
    if 1.0 - wk[ERR] / wk[BASE] <= week_strength:
        return 0.0
    return wk[OFFSETS + weekday(t)]


@kernel
def weekly_learn(wk: np.ndarray, t: float, miss: float, scale: float, interval: float,
                 week_days: float, a_strength: float, huber: float) -> None:
    """Learn ``miss``, the forecast's error at ``t`` before any weekly offset.

    An offset moves by ``interval / (week_days days)`` per sample, so it remembers about
    ``week_days`` visits of its weekday at any sampling rate; the error is clipped at
    ``huber`` scales so one incident does not become a weekday's normal.
    """
    if interval <= 0.0:
        return
    d = OFFSETS + weekday(t)
    lim = huber * scale
    clipped = max(-lim, min(lim, miss))
    wk[ERR] += a_strength * (abs(clipped - wk[d]) - wk[ERR])
    wk[BASE] += a_strength * (abs(clipped) - wk[BASE])
    wk[d] += min(1.0, interval / (week_days * DAY_S)) * (clipped - wk[d])
    # Offsets measure weekdays against each other: keep their mean at 0 so they never
    # drift into the level the forecasts already carry.
    mean = 0.0
    for k in range(7):
        mean += wk[OFFSETS + k]
    mean /= 7.0
    for k in range(7):
        wk[OFFSETS + k] -= mean
    if not math.isfinite(wk[d]):
        wk[OFFSETS:] = 0.0
