"""A series' resolution: the decimal step its values are written in, learned online.

Counts move by whole units and percentages rounded to one decimal by 0.1, and a scale
smaller than that step is noise pretending to be precision: after a quiet stretch of zeros,
one purchase or one crash is a z of millions against a MAD of nothing. The resolution is
the largest power of ten that every value seen so far is a whole multiple of (1 for counts,
0.001 for three decimals, 0 for values with no short decimal form); the ensemble floors
every scale at ``grain_frac`` of it. Continuous measurements get no floor from it.
"""

import numpy as np
from alertflow.operators.anomaly.compiled import kernel

# The resolution's one slot, relative to its segment of a state array.
STEP = 0
RESOLUTION_SIZE = 1
_COARSEST = 1e12
_FINEST = 1e-9


@kernel
def _multiple_of(x: float, step: float) -> bool:
    if x == 0.0:
        return True
    k = x / step
    whole = round(k)
    # Past 1e9 steps a double cannot tell a fraction of 1e-6 of a step: not a resolution.
    return whole != 0.0 and abs(k) < 1e9 and abs(k - whole) <= 1e-6


@kernel
def resolution_init(res: np.ndarray, x: float) -> None:
    """Nothing learned yet: the coarsest step, narrowed by the first value."""
    res[STEP] = _COARSEST
    resolution_learn(res, x)


@kernel
def resolution_learn(res: np.ndarray, x: float) -> float:
    """Learn ``x``; returns the resolution so far (0: not a decimal series).

    The step only ever gets finer, one decade at a time, so a value costs one division
    once the step has settled.
    """
    step = res[STEP]
    while step > 0.0 and not _multiple_of(x, step):
        step = step / 10.0 if step / 10.0 >= _FINEST else 0.0
    res[STEP] = step
    return step


@kernel
def resolution_floor(res: np.ndarray, grain_frac: float) -> float:
    """``grain_frac`` of the resolution (0 for a series that has none)."""
    return grain_frac * res[STEP] if res[STEP] < _COARSEST else 0.0
