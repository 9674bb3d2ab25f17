"""Isolation trees as flat arrays, grown and walked with numpy over many trees at once.

A tree of height ``depth`` is stored in heap order (node ``i`` has children ``2i + 1`` and
``2i + 2``). Each of its ``2 ** depth - 1`` inner slots holds a split: ``k`` features and
weights whose weighted sum is the node's projection (``features[..., 0] == -1``: a leaf), the
threshold (a point goes right when its projection is ``>= threshold``) and the projection's
training range ``[low, high]``. All ``2 ** (depth + 1) - 1`` slots hold how many training
points reached the node. A leaf's path length is its depth plus :func:`average_path_length`
of its count (Liu, Ting & Zhou, 2008).

``k = 1`` with weight 1 is the standard axis-parallel split; ``k > 1`` with Gaussian weights
is the Extended Isolation Forest's hyperplane split (Hariri, Kind & Brunner, 2021), which sees
a combination of features moving against their usual relation, and a single feature's
outlier, in every split instead of only in the splits that happen to pick that feature.

Out-of-range extension (``extend=True``): a point whose projection lies outside the node's
training range by a gap ``g`` would have been cut off right there with probability
``g / (high - low + g)`` had it been in the sample (the threshold is uniform over the range);
the path length is the expectation over that, so a point far beyond everything seen is
isolated in about one split instead of following the extreme branch to its deepest leaf.
Inside the ranges it is the standard path length.

Randomness comes in as arrays so the caller owns the generator and growing a tree is a pure
function of its inputs; :mod:`operators.isolation.jit` grows bit-identical trees.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

_EULER_GAMMA = 0.5772156649015329


class Trees(NamedTuple):
    """Parallel arrays of ``T`` trees.

    ``(T, inner, k)`` split terms, ``(T, inner)`` split data, ``(T, slots)`` counts.
    """

    features: np.ndarray
    weights: np.ndarray
    thresholds: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    counts: np.ndarray


class Draws(NamedTuple):
    """The random numbers that grow ``T`` trees.

    Feature keys ``(T, inner, d)`` (a node uses the ``k`` varying features with the largest
    keys), weights ``(T, inner, k)`` and threshold fractions in (0, 1] ``(T, inner)``.
    """

    keys: np.ndarray
    weights: np.ndarray
    fractions: np.ndarray


def average_path_length(n: np.ndarray | int) -> np.ndarray:
    """``c(n)``: the mean path length of an unsuccessful BST search among ``n`` points.

    >>> [round(float(c), 3) for c in average_path_length(np.array([0, 1, 2, 256]))]
    [0.0, 0.0, 1.0, 10.245]
    """
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 3.0)
    c = 2.0 * (np.log(safe - 1.0) + _EULER_GAMMA) - 2.0 * (safe - 1.0) / safe
    return np.where(n > 2.0, c, np.where(n == 2.0, 1.0, 0.0))


@functools.lru_cache(maxsize=8)
def path_table(sample_size: int) -> np.ndarray:
    """``c(n)`` for ``n = 0 .. sample_size``, read-only."""
    table = average_path_length(np.arange(sample_size + 1))
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=64)
def tree_depth(sample_size: int) -> int:
    """The height limit for trees grown on ``sample_size`` points: ``ceil(log2 ψ)``."""
    return max(1, math.ceil(math.log2(max(sample_size, 2))))


def empty_trees(n_trees: int, depth: int, k: int) -> Trees:
    """``n_trees`` trees that are all a single leaf without points."""
    inner, slots = 2**depth - 1, 2 ** (depth + 1) - 1
    return Trees(
        features=np.full((n_trees, inner, k), -1, dtype=np.int16),
        weights=np.zeros((n_trees, inner, k), dtype=np.float32),
        thresholds=np.zeros((n_trees, inner)),
        lows=np.zeros((n_trees, inner)),
        highs=np.zeros((n_trees, inner)),
        counts=np.zeros((n_trees, slots), dtype=np.uint16),
    )


def project(points: np.ndarray, features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_i weights[..., i] * points[row, features[..., i]]``, summed in order from 0.0.

    ``points`` is ``(n, d)``; ``features`` and ``weights`` are ``(n, ..., k)``. The explicit
    order keeps the sum bit-identical to the numba loop's.
    """
    total = np.zeros(features.shape[:-1])
    rows = np.arange(points.shape[0]).reshape((-1,) + (1,) * (features.ndim - 2))
    for i in range(features.shape[-1]):
        total = total + weights[..., i] * points[rows, np.maximum(features[..., i], 0)]
    return total


def build_trees(samples: np.ndarray, draws: Draws, depth: int) -> Trees:
    """Grow one tree per sample, all at once, level by level.

    ``samples`` is ``(T, m, d)``: ``m`` finite points per tree. A node projects its points on
    the ``k`` features that vary within it with the largest keys (fewer if fewer vary), and
    splits at ``low + fraction * (high - low)`` of the projection; it stays a leaf when it
    holds fewer than two points, the projection is constant, or it is at ``depth``.
    """
    n_trees, m, d = samples.shape
    k = draws.weights.shape[-1]
    trees = empty_trees(n_trees, depth, k)
    tree = np.repeat(np.arange(n_trees), m)
    points = samples.reshape(n_trees * m, d)
    node = np.zeros(n_trees * m, dtype=np.intp)  # heap index of each point
    live = np.arange(n_trees * m)  # points not yet at a leaf
    for level in range(depth + 1):
        first, width = 2**level - 1, 2**level
        part = slice(first, first + width)
        key = tree[live] * width + (node[live] - first)  # the point's node, numbered per level
        count = np.bincount(key, minlength=n_trees * width)
        trees.counts[:, part] = count.reshape(n_trees, width)
        if level == depth or live.size == 0:
            break
        features, weights = _choose_terms(points[live], key, draws, part, n_trees * width)
        projection = project(points[live], features[key], weights[key])
        low = np.full(n_trees * width, np.inf)
        high = np.full(n_trees * width, -np.inf)
        np.minimum.at(low, key, projection)
        np.maximum.at(high, key, projection)
        splits = (count >= 2) & (features[:, 0] >= 0) & (high > low)
        # Empty nodes have infinite bounds; zeros keep the arithmetic finite.
        low, high = np.where(splits, low, 0.0), np.where(splits, high, 0.0)
        cut = low + draws.fractions[:, part].reshape(-1) * (high - low)
        features[~splits] = -1
        weights[~splits] = 0.0
        shape = (n_trees, width)
        trees.features[:, part] = features.reshape(*shape, k)
        trees.weights[:, part] = weights.reshape(*shape, k)
        trees.thresholds[:, part] = np.where(splits, cut, 0.0).reshape(shape)
        trees.lows[:, part], trees.highs[:, part] = low.reshape(shape), high.reshape(shape)
        going = splits[key]
        right = projection[going] >= cut[key[going]]
        live = live[going]
        node[live] = 2 * node[live] + 1 + right
    return trees


def _choose_terms(
    points: np.ndarray, key: np.ndarray, draws: Draws, part: slice, n_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per node of a level: the ``k`` varying features with the largest keys, and weights."""
    d, k = points.shape[1], draws.weights.shape[-1]
    lows = np.full((n_nodes, d), np.inf)
    highs = np.full((n_nodes, d), -np.inf)
    np.minimum.at(lows, key, points)
    np.maximum.at(highs, key, points)
    keys = np.where(highs > lows, draws.keys[:, part].reshape(n_nodes, d), -1.0)
    chosen = np.argsort(-keys, axis=1, kind="stable")[:, :k]
    valid = np.take_along_axis(keys, chosen, axis=1) >= 0.0
    weights = draws.weights[:, part].reshape(n_nodes, k)
    return (np.where(valid, chosen, np.where(valid[:, :1], 0, -1)).astype(np.int16),
            np.where(valid, weights, np.float32(0.0)).astype(np.float32))


def _gap_probability(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Chance that a uniform cut over the range widened to ``value`` cuts ``value`` off."""
    gap = np.where(value < low, low - value, np.where(value > high, value - high, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap > 0.0, gap / (high - low + gap), 0.0)


def path_lengths(trees: Trees, points: np.ndarray, depth: int, extend: bool) -> np.ndarray:
    """Expected path length of every (finite) point in every tree: ``(n, T)``."""
    n_trees = trees.thresholds.shape[0]
    shape = (points.shape[0], n_trees)
    tree = np.broadcast_to(np.arange(n_trees), shape)
    node = np.zeros(shape, dtype=np.intp)
    levels = np.zeros(shape)
    alive = np.ones(shape)
    expected = np.zeros(shape)
    for level in range(depth):
        split = trees.features[tree, node, 0] >= 0
        if not split.any():
            break
        value = project(points, trees.features[tree, node], trees.weights[tree, node])
        if extend:
            p = np.where(split, _gap_probability(value, trees.lows[tree, node],
                                                 trees.highs[tree, node]), 0.0)
            expected += alive * p * (level + 1)
            alive *= 1.0 - p
        right = value >= trees.thresholds[tree, node]
        node = np.where(split, 2 * node + 1 + right, node)
        levels += split
    return expected + alive * (levels + average_path_length(trees.counts[tree, node]))
