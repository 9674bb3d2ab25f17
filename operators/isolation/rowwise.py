"""Row-by-row loops that numba compiles when it is installed, and Python runs when not.

Each is written once, in the subset of Python numba compiles, so both engines run the same
arithmetic; the uncompiled function stays reachable as ``.py_func`` on the compiled one.
"""

import math

import numpy as np
from alertflow.operators.isolation.jit import compiled

# Mean absolute deviation of a normal variable is sigma * sqrt(2/pi).
MAD_TO_SIGMA = math.sqrt(math.pi / 2)


@compiled
def scale_rows(
    rows: np.ndarray,
    n: np.ndarray,
    level: np.ndarray,
    abs_dev: np.ndarray,
    alpha: float,
    warmup: int,
    clip: float,
    rel_scale_floor: float,
    learn: bool,
) -> np.ndarray:
    """Robust z of each row against the state before it; then, if ``learn``, learn the row.

    Per feature: ``z = (x - level) / sigma`` (0 for a feature never seen, NaN stays NaN), with
    ``sigma = max(abs_dev * sqrt(pi/2), rel_scale_floor * |level|, 1e-9)``. Learning a finite
    ``x``: the first sets the level; then ``rate = max(alpha, 1/n)`` moves level and mean
    absolute deviation towards it, the deviation clipped at ``clip`` sigmas after warm-up.
    """
    out = np.empty(rows.shape)
    for r in range(rows.shape[0]):
        for f in range(rows.shape[1]):
            x = rows[r, f]
            sigma = max(abs_dev[f] * MAD_TO_SIGMA, max(rel_scale_floor * abs(level[f]), 1e-9))
            if n[f] == 0:
                out[r, f] = x if math.isnan(x) else 0.0
            else:
                out[r, f] = (x - level[f]) / sigma
            if not learn or not math.isfinite(x):
                continue
            n[f] += 1
            if n[f] == 1:
                level[f] = x
                continue
            rate = max(alpha, 1.0 / n[f])
            deviation = x - level[f]
            if n[f] > warmup:
                deviation = min(max(deviation, -clip * sigma), clip * sigma)
            level[f] += rate * deviation
            abs_dev[f] += rate * (abs(deviation) - abs_dev[f])
    return out


@compiled
def window_features(history: np.ndarray, length: int, values: np.ndarray,
                    learn: bool) -> tuple[np.ndarray, int]:
    """``[x, x - prev, x - mean(H), std(H + [x])]`` per value, ``H`` the recent values before.

    ``history`` holds the last ``length`` values right-aligned (newest last); with ``learn``
    each value is pushed into it after its features are taken. Returns the features
    ``(n, 4)`` and the new ``length``.
    """
    k = history.size
    out = np.zeros((values.size, 4))
    for i in range(values.size):
        x = values[i]
        out[i, 0] = x
        if length > 0:
            total = 0.0
            for j in range(k - length, k):
                total += history[j]
            mean = total / length
            both = (total + x) / (length + 1)
            spread = (x - both) ** 2
            for j in range(k - length, k):
                spread += (history[j] - both) ** 2
            out[i, 1] = x - history[k - 1]
            out[i, 2] = x - mean
            out[i, 3] = math.sqrt(spread / (length + 1))
        if learn:
            for j in range(k - 1):
                history[j] = history[j + 1]
            history[k - 1] = x
            length = min(length + 1, k)
    return out, length
