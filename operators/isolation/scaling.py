"""Per-feature robust scaling, learned online: the unit every isolation feature is put in."""

import numpy as np
from alertflow.operators.isolation.rowwise import scale_rows


class RobustScaler:
    """Robust z-scores ``(x - level) / scale`` per feature, the level and scale learned online.

    Per feature, as the robust EWMA detector does for one series: an
    exponentially weighted level and mean absolute deviation, with each deviation clipped at
    ``clip`` scales once warmed up, so a burst of outliers barely moves either. During a
    feature's first ``warmup`` values plain running means converge faster. Each feature warms
    up on its own (a metric may appear late); NaN coordinates are neither scaled nor learned.

    >>> scaler = RobustScaler(warmup=5)
    >>> for i in range(100):
    ...     scaler.learn_one(np.array([10.0 + i % 3, 1000.0 + 10 * (i % 3)]))
    >>> [round(float(z), 1) for z in scaler.transform_one(np.array([11.0, 1100.0]))]
    [0.0, 10.3]
    """

    def __init__(
        self,
        alpha: float = 0.01,
        warmup: int = 30,
        clip: float = 6.0,
        rel_scale_floor: float = 1e-3,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.clip = clip
        self.rel_scale_floor = rel_scale_floor
        self.n = np.zeros(0, dtype=np.int64)
        self.level = np.zeros(0)
        self.abs_dev = np.zeros(0)

    def _fit_width(self, width: int) -> None:
        if self.n.size < width:  # a new feature starts cold; the others keep their state
            grow = width - self.n.size
            self.n = np.concatenate([self.n, np.zeros(grow, dtype=np.int64)])
            self.level = np.concatenate([self.level, np.zeros(grow)])
            self.abs_dev = np.concatenate([self.abs_dev, np.zeros(grow)])

    def warmed_up(self) -> np.ndarray:
        """Per feature, whether ``warmup`` values have been learned."""
        return self.n >= self.warmup

    def _run(self, rows: np.ndarray, learn: bool) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        width = rows.shape[1]
        self._fit_width(width)
        # Views: the kernel updates the first ``width`` features' state in place.
        return scale_rows(rows, self.n[:width], self.level[:width], self.abs_dev[:width],
                          self.alpha, self.warmup, self.clip, self.rel_scale_floor, learn)

    def transform_one(self, x: np.ndarray) -> np.ndarray:
        """Robust z of each coordinate; 0 for a feature never seen, NaN stays NaN."""
        return self._run(np.asarray(x, dtype=np.float64)[None, :], learn=False)[0]

    def learn_one(self, x: np.ndarray) -> None:
        """Update each finite coordinate's level and scale."""
        self._run(np.asarray(x, dtype=np.float64)[None, :], learn=True)

    def transform_learn_many(self, rows: np.ndarray) -> np.ndarray:
        """For each row in order: its robust z, then learn it."""
        return self._run(rows, learn=True)
