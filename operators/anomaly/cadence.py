"""A series' sampling cadence, learned online, to turn a time span into a count of samples."""

import numpy as np
from alertflow.operators.anomaly.compiled import kernel

# The clock's slots, relative to its segment of a state array.
LAST_T, INTERVAL = 0, 1
CLOCK_SIZE = 2
# Gaps (outages, a missing night) are longer than this many usual intervals: not cadence.
_GAP = 10.0
_RATE = 0.05


@kernel
def clock_init(clock: np.ndarray, t: float) -> None:
    """A clock that has seen one sample, at ``t`` seconds."""
    clock[LAST_T] = t
    clock[INTERVAL] = 0.0


@kernel
def samples_in(clock: np.ndarray, t: float, span_s: float, most: int) -> int:
    """Learn the sample at ``t``; how many samples cover ``span_s`` seconds (1 to ``most``).

    The interval is an exponential average of the time between samples (rate 0.05); one
    longer than ten usual intervals is a gap and only nudges it. ``span_s`` 0 means
    ``most``; so does a series whose timestamps do not advance.
    """
    dt = t - clock[LAST_T]
    clock[LAST_T] = max(t, clock[LAST_T])
    if dt > 0.0:
        interval = clock[INTERVAL]
        if interval <= 0.0:
            clock[INTERVAL] = dt
        else:
            clock[INTERVAL] = interval + _RATE * (min(dt, _GAP * interval) - interval)
    if span_s <= 0.0 or clock[INTERVAL] <= 0.0:
        return most
    return max(1, min(most, int(span_s / clock[INTERVAL] + 0.5)))
