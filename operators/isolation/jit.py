"""Loops numba compiles when it is installed: the tree kernels, and the decorator that does it.

``grow_tree`` and ``path_lengths`` grow the same trees from the same draws as
:mod:`operators.isolation.trees` and give the same path lengths, bit for bit (the same IEEE
operations in the same order; the tests compare them), in ~10x less time per point: numpy pays
its per-call overhead at every tree level, these loops do not. Without numba they still run,
as plain (slow) Python, and :class:`~operators.isolation.forest.IsolationForest` uses the
numpy kernels instead (``COMPILED`` is False).
"""

from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - exercised where numba is not installed
    numba = None

COMPILED = numba is not None


def compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit`` (cached on disk, GIL released) when numba is installed, else as is.

    The uncompiled function stays reachable as ``.py_func`` on the compiled one.
    """
    return numba.njit(cache=True, nogil=True)(function) if COMPILED else function


@compiled
def grow_tree(
    sample: np.ndarray,
    keys: np.ndarray,
    draw_weights: np.ndarray,
    fractions: np.ndarray,
    features: np.ndarray,
    weights: np.ndarray,
    thresholds: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Grow one tree on ``sample`` (``(m, d)``) into its heap arrays, as ``build_trees`` does."""
    m, d = sample.shape
    inner, k = features.shape
    slots = counts.size
    order = np.arange(m)
    start = np.zeros(slots, dtype=np.int64)
    stop = np.zeros(slots, dtype=np.int64)
    spread = np.zeros(d, dtype=np.bool_)
    taken = np.zeros(d, dtype=np.bool_)
    projection = np.zeros(m)
    features[:] = -1
    weights[:] = 0.0
    thresholds[:] = 0.0
    lows[:] = 0.0
    highs[:] = 0.0
    stop[0] = m
    for node in range(slots):
        size = stop[node] - start[node]
        counts[node] = size
        if node >= inner or size < 2:
            continue
        for f in range(d):
            lo, hi = np.inf, -np.inf
            for j in range(start[node], stop[node]):
                lo = min(lo, sample[order[j], f])
                hi = max(hi, sample[order[j], f])
            spread[f] = hi > lo
            taken[f] = False
        if not _choose(keys[node], draw_weights[node], spread, taken, features[node],
                       weights[node]):
            continue
        low, high = np.inf, -np.inf
        for j in range(start[node], stop[node]):
            value = 0.0
            for i in range(k):
                value = value + weights[node, i] * sample[order[j], max(features[node, i], 0)]
            projection[order[j]] = value
            low = min(low, value)
            high = max(high, value)
        if not high > low:
            features[node, :] = -1
            weights[node, :] = 0.0
            continue
        cut = low + fractions[node] * (high - low)
        left = start[node]  # partition in place: points below the cut first
        for j in range(start[node], stop[node]):
            if projection[order[j]] < cut:
                order[left], order[j] = order[j], order[left]
                left += 1
        thresholds[node], lows[node], highs[node] = cut, low, high
        start[2 * node + 1], stop[2 * node + 1] = start[node], left
        start[2 * node + 2], stop[2 * node + 2] = left, stop[node]


@compiled
def _choose(keys: np.ndarray, draw_weights: np.ndarray, spread: np.ndarray, taken: np.ndarray,
            features: np.ndarray, weights: np.ndarray) -> bool:
    """The ``k`` varying features with the largest keys, largest first; False if none varies."""
    for i in range(features.size):
        best, best_key = -1, -1.0
        for f in range(keys.size):
            if spread[f] and not taken[f] and keys[f] > best_key:
                best, best_key = f, keys[f]
        if best < 0:
            if i == 0:
                return False
            features[i], weights[i] = 0, 0.0
            continue
        taken[best] = True
        features[i], weights[i] = best, draw_weights[i]
    return True


@compiled
def path_lengths(
    features: np.ndarray,
    weights: np.ndarray,
    thresholds: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    counts: np.ndarray,
    table: np.ndarray,
    points: np.ndarray,
    extend: bool,
) -> np.ndarray:
    """Expected path length of every point in every tree, ``(n, T)``; ``table[n]`` is c(n)."""
    n, n_trees = points.shape[0], features.shape[0]
    inner, k = features.shape[1], features.shape[2]
    out = np.empty((n, n_trees))
    for r in range(n):
        for t in range(n_trees):
            node, level = 0, 0
            alive, expected = 1.0, 0.0
            while node < inner and features[t, node, 0] >= 0:
                value = 0.0
                for i in range(k):
                    value = value + weights[t, node, i] * points[r, max(features[t, node, i], 0)]
                if extend:
                    low, high = lows[t, node], highs[t, node]
                    gap = low - value if value < low else (value - high if value > high else 0.0)
                    if gap > 0.0:
                        p = gap / (high - low + gap)
                        expected += alive * p * (level + 1)
                        alive *= 1.0 - p
                node = 2 * node + 1 + (1 if value >= thresholds[t, node] else 0)
                level += 1
            out[r, t] = expected + alive * (level + table[counts[t, node]])
    return out
