"""A value that stops changing for longer than it ever has: the stuck-value channel, 4 floats.

A dead exporter or a frozen gauge repeats its last value; every forecast then sees a tiny
residual and the series looks calmer than ever, which none of them calls news. Counts at 0
through the night and a queue that is empty for hours repeat a value as well: 0 (nothing
happened) is never stuck, nor is a series that has never changed, and "longer than usual"
is the series' own: the longest run of one value it has had lately (a maximum
that halves in ``HALF_LIFE_S`` unless a run as long comes again). The evidence, in log10
units like the likelihood's, is ``3 * log2(run / usual)``: a run twice the usual one is
as strong as a 1-in-1000 surprise, four times as strong as a 1-in-a-million one.
"""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import kernel

# Slots, relative to the channel's segment: the value repeating, when its run began (epoch
# seconds), the usual longest run (seconds) and the time that maximum was last decayed to.
VALUE, RUN_T0, USUAL, DECAYED_T = range(4)
STUCK_SIZE = 4
HALF_LIFE_S = 7 * 86400.0
_BITS = 3.0  # evidence per doubling of the usual run
_GAP = 10.0  # a step this many intervals long is a gap in the sampling, not a repeat
_LN2 = math.log(2.0)


@kernel
def stuck_init(st: np.ndarray, x: float, t: float) -> None:
    """A run of ``x`` begins at ``t``; no usual run yet."""
    st[VALUE] = x
    st[RUN_T0] = t
    st[USUAL] = 0.0
    st[DECAYED_T] = t


@kernel
def stuck_learn(st: np.ndarray, x: float, t: float, interval: float) -> float:
    """Learn ``x`` at ``t``; the evidence (log10 units) that its run is longer than usual.

    ``interval`` (the learnt sampling interval, seconds) sets the shortest usual run (two
    intervals: a repeat or two is never news) and what a gap is. 0 without a clock.
    """
    if interval <= 0.0:
        return 0.0
    gap = t - st[DECAYED_T]
    if gap > 0.0:
        st[USUAL] *= math.exp(-_LN2 * gap / HALF_LIFE_S)
        st[DECAYED_T] = t
    if gap > _GAP * interval:
        # Nobody saw the series during a gap: the same value after it starts a new run.
        st[VALUE] = x
        st[RUN_T0] = t
        return 0.0
    if x != st[VALUE]:
        st[USUAL] = max(st[USUAL], t - st[RUN_T0])  # the run ended at this sample
        st[VALUE] = x
        st[RUN_T0] = t
        return 0.0
    if st[USUAL] <= 0.0 or x == 0.0:
        # The value never changed (a constant series is not stuck, it is so), or it is 0:
        # no requests, no errors, an empty queue: quiet, which a dead exporter is not.
        return 0.0
    run = t - st[RUN_T0]
    usual = max(st[USUAL], 2.0 * interval)
    if run <= usual:
        return 0.0
    return _BITS * math.log(run / usual) / _LN2
