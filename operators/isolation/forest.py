"""A streaming isolation forest over a sliding window of the most recent points."""

import math
import pickle

import numpy as np
from alertflow.operators.isolation import jit
from alertflow.operators.isolation import trees as numpy_kernels
from alertflow.operators.isolation.errors import IsolationError
from alertflow.operators.isolation.trees import Draws, Trees, empty_trees, path_table, tree_depth


class IsolationForest:
    """Isolation forest (Liu, Ting & Zhou, 2008) that keeps learning, in fixed-size state.

    The last ``window_size`` finite points sit in a ring buffer. Once ``warmup`` points have
    been learned every tree is grown, each on ``sample_size`` points drawn from the window;
    after that the oldest trees are regrown from the current window every ``rebuild_every``
    points (default ``window_size // n_trees``), so every tree is replaced about once per
    window: O(1) amortised work per point, and the forest follows drift like iForestASD
    (Ding & Fei, 2013) without waiting for a drift alarm.

    The score is ``2 ** (-E[h(x)] / c(ψ))`` in (0, 1]: about 0.5 or less for typical points,
    towards 1 for points isolated in few splits; 0.0 during warm-up and NaN for a point with a
    non-finite coordinate (such points are never learned). With ``extend_ranges`` a point
    beyond a node's training range is cut off there with the chance a uniform split over the
    widened range would have had (see :mod:`operators.isolation.trees`), so its score grows
    with its distance from the data instead of stopping at the extreme leaf's.

    ``extension_level`` is the Extended Isolation Forest's: 0 splits on one feature at a time
    (the original), ``e`` on a random hyperplane through ``e + 1`` features, None through all
    of them, which catches features moving against their usual relation far better.
    Randomness comes only from ``seed``; the state is fixed-size arrays (``state_bytes``).

    >>> rng = np.random.default_rng(0)
    >>> forest = IsolationForest(n_trees=16, window_size=128, sample_size=64, seed=1)
    >>> _ = forest.update_many(rng.normal(size=(300, 2)))
    >>> round(forest.score_one(np.zeros(2)), 2), round(forest.score_one(np.array([6.0, -6.0])), 2)
    (0.39, 0.85)
    """

    use_jit: bool = jit.COMPILED
    """Numba kernels if installed, else numpy: the same trees and scores (tests check), the
    numba ones ~10x faster per point. Class-wide, so tests can switch."""

    def __init__(
        self,
        n_trees: int = 32,
        window_size: int = 256,
        sample_size: int = 128,
        rebuild_every: int | None = None,
        warmup: int = 64,
        extension_level: int | None = 0,
        extend_ranges: bool = True,
        seed: int = 0,
    ) -> None:
        if n_trees < 1 or window_size < 2 or not 2 <= sample_size <= min(window_size, 65535):
            raise IsolationError(
                f"IsolationForest: expected n_trees >= 1 and 2 <= sample_size <= window_size "
                f"(<= 65535), got n_trees={n_trees}, window_size={window_size}, "
                f"sample_size={sample_size}"
            )
        if extension_level is not None and extension_level < 0:
            raise IsolationError(f"IsolationForest: expected extension_level >= 0 or None, "
                                 f"got {extension_level}")
        if warmup < 2 or (rebuild_every is not None and rebuild_every < 1):
            raise IsolationError(f"IsolationForest: expected warmup >= 2 and rebuild_every >= 1, "
                                 f"got warmup={warmup}, rebuild_every={rebuild_every}")
        self.n_trees = n_trees
        self.window_size = window_size
        self.sample_size = sample_size
        self.rebuild_every = rebuild_every
        self.warmup = warmup
        self.extension_level = extension_level
        self.extend_ranges = extend_ranges
        self.seed = seed
        self.n_learned = 0
        self.n_features: int | None = None

    @property
    def depth(self) -> int:
        """Height limit of every tree: ``ceil(log2(sample_size))``."""
        return tree_depth(self.sample_size)  # cached: this is on the per-point path

    @property
    def warmed_up(self) -> bool:
        """Whether the forest has been grown and gives scores."""
        return self.n_learned >= self.warmup

    @property
    def terms(self) -> int:
        """Features per split: ``extension_level + 1``, all of them when it is None."""
        if self.n_features is None:
            return 0
        if self.extension_level is None:
            return self.n_features
        return min(self.extension_level + 1, self.n_features)

    def _period(self) -> int:
        return self.rebuild_every or max(1, self.window_size // self.n_trees)

    def _trees_per_rebuild(self) -> int:
        # Enough trees per rebuild that each is replaced at least once per window.
        return min(self.n_trees, math.ceil(self.n_trees * self._period() / self.window_size))

    # ------------------------------------------------------------------ state

    def _init_state(self, n_features: int) -> None:
        self.n_features = n_features
        self._rng = np.random.default_rng(self.seed)
        self._window = np.zeros((self.window_size, n_features))
        self._filled = 0
        self._head = 0
        self._trees = empty_trees(self.n_trees, self.depth, self.terms)
        self._norms = np.ones(self.n_trees)  # c(ψ) of the sample each tree was grown on
        self._next_tree = 0
        self._since_rebuild = 0

    def _rows(self, points: np.ndarray, ndim: int) -> np.ndarray:
        rows = np.asarray(points, dtype=np.float64)
        if rows.ndim != ndim:
            raise IsolationError(f"IsolationForest: expected a {ndim}-d array, got shape "
                                 f"{rows.shape}")
        width = rows.shape[-1]
        if self.n_features is None:
            if not 1 <= width <= 32767:
                raise IsolationError(f"IsolationForest: expected 1 to 32767 features, "
                                     f"got {width}")
            self._init_state(width)
        elif width != self.n_features:
            raise IsolationError(f"IsolationForest: expected {self.n_features} features, "
                                 f"got {width}")
        return rows

    def state_bytes(self) -> int:
        """Size of the pickled state: what a snapshot of this forest costs."""
        return len(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    # ------------------------------------------------------------------ public API

    def score_one(self, x: np.ndarray) -> float:
        """Score one point without learning it."""
        row = self._rows(x, 1)
        if not np.isfinite(row).all():
            return math.nan
        return float(self._score(row[None, :])[0])

    def learn_one(self, x: np.ndarray) -> None:
        """Add one point to the window; regrow trees when their turn comes."""
        row = self._rows(x, 1)
        if np.isfinite(row).all():
            self._learn(row[None, :])

    def score_many(self, points: np.ndarray) -> np.ndarray:
        """Score every row with the current forest, learning nothing."""
        rows = self._rows(points, 2)
        scores = np.full(rows.shape[0], math.nan)
        finite = np.isfinite(rows).all(axis=1)
        scores[finite] = self._score(rows[finite])
        return scores

    def update_many(self, points: np.ndarray) -> np.ndarray:
        """Score each row, then learn it, in order; same result as ``score_one``/``learn_one``.

        Rows between two regrowths see the same forest, so each such run is scored at once.
        """
        rows = self._rows(points, 2)
        scores = np.full(rows.shape[0], math.nan)
        finite = np.flatnonzero(np.isfinite(rows).all(axis=1))
        at = 0
        while at < finite.size:
            chunk = finite[at : at + self._until_change()]
            scores[chunk] = self._score(rows[chunk])
            self._learn(rows[chunk])
            at += chunk.size
        return scores

    def explain_one(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The score, and how much of it each feature accounts for (shares summing to 1).

        Feature ``i``'s part is how far the score falls when ``x[i]`` alone is put back at the
        window's median of feature ``i`` (0 if it would not fall); the parts are normalised
        to sum to 1. All zeros during warm-up or when no single feature lowers the score.
        """
        row = self._rows(x, 1)
        share = np.zeros(row.size)
        if not np.isfinite(row).all():
            return math.nan, share
        if not self.warmed_up:
            return 0.0, share
        typical = np.median(self._window[: self._filled], axis=0)
        variants = np.repeat(row[None, :], row.size + 1, axis=0)
        variants[np.arange(1, row.size + 1), np.arange(row.size)] = typical
        scores = self._score(variants)
        share = np.maximum(scores[0] - scores[1:], 0.0)
        total = share.sum()
        return float(scores[0]), (share / total if total > 0 else share)

    # ------------------------------------------------------------------ internals

    def _until_change(self) -> int:
        """Points that can be learned before the forest changes (at least 1)."""
        if not self.warmed_up:
            return self.warmup - self.n_learned
        return self._period() - self._since_rebuild

    def _score(self, rows: np.ndarray) -> np.ndarray:
        if not self.warmed_up or rows.shape[0] == 0:
            return np.zeros(rows.shape[0])
        if self.use_jit:
            lengths = jit.path_lengths(*self._trees, path_table(self.sample_size),
                                       np.ascontiguousarray(rows), self.extend_ranges)
        else:
            lengths = numpy_kernels.path_lengths(self._trees, rows, self.depth,
                                                 self.extend_ranges)
        return np.exp2(-(lengths / self._norms).mean(axis=1))

    def _learn(self, rows: np.ndarray) -> None:
        """Learn rows that cannot cross more than one regrowth (``len <= _until_change()``)."""
        self._push(rows)
        self.n_learned += rows.shape[0]
        if self.n_learned == self.warmup:
            self._grow(np.arange(self.n_trees))
        elif self.n_learned > self.warmup:
            self._since_rebuild += rows.shape[0]
            if self._since_rebuild >= self._period():
                self._since_rebuild = 0
                k = self._trees_per_rebuild()
                self._grow((self._next_tree + np.arange(k)) % self.n_trees)
                self._next_tree = (self._next_tree + k) % self.n_trees

    def _push(self, rows: np.ndarray) -> None:
        if rows.shape[0] == 1:  # the streaming case, without the index arithmetic
            self._window[self._head] = rows[0]
            self._head = (self._head + 1) % self.window_size
            self._filled = min(self.window_size, self._filled + 1)
            return
        rows = rows[-self.window_size :]
        at = (self._head + np.arange(rows.shape[0])) % self.window_size
        self._window[at] = rows
        self._head = (self._head + rows.shape[0]) % self.window_size
        self._filled = min(self.window_size, self._filled + rows.shape[0])

    def _grow(self, slots: np.ndarray) -> None:
        """Regrow the trees at ``slots``, each on a fresh sample of the window."""
        n, d, k = slots.size, self.n_features or 0, self.terms
        m, inner = min(self.sample_size, self._filled), 2**self.depth - 1
        picks = np.stack([self._rng.choice(self._filled, size=m, replace=False)
                          for _ in range(n)])
        keys = self._rng.random((n, inner, d))
        # Axis-parallel splits keep weight 1 so thresholds are in the feature's own units.
        weights = (np.ones((n, inner, 1), dtype=np.float32) if k == 1 else
                   self._rng.standard_normal((n, inner, k)).astype(np.float32))
        fractions = 1.0 - self._rng.random((n, inner))  # in (0, 1]: never the minimum itself
        samples = self._window[picks]
        if self.use_jit:
            for i, slot in enumerate(slots.tolist()):
                jit.grow_tree(samples[i], keys[i], weights[i], fractions[i],
                              *(array[slot] for array in self._trees))
        else:
            grown = numpy_kernels.build_trees(samples, Draws(keys, weights, fractions),
                                              self.depth)
            for mine, new in zip(self._trees, grown, strict=True):
                mine[slots] = new
        self._norms[slots] = path_table(self.sample_size)[m]


__all__ = ["IsolationForest", "Trees"]
