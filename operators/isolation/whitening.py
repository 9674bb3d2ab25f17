"""Online decorrelation of feature vectors, so isolation splits see broken correlations."""

import math

import numpy as np
from alertflow.operators.isolation.errors import IsolationError


class Whitener:
    """ZCA whitening ``W (x - mean)``, ``W = C^(-1/2)``, from an online, outlier-resistant ``C``.

    Isolation splits are drawn over a feature's range, so two metrics that always move
    together leave an off-diagonal point (one moved alone) inside every range: hard to
    isolate. After whitening, the thin direction across the diagonal has unit variance and
    such a point lies many units out, where one split isolates it. ZCA is the whitening
    closest to the identity and changes smoothly with ``C`` (no eigenvector order or sign to
    flip), so points whitened a little earlier stay comparable.

    Inputs are expected in robust z units (see ``RobustScaler``): the covariance starts as the
    identity (independent unit features) with the weight of ``prior`` vectors, then follows
    the data with rate ``max(alpha, 1 / (n + prior))``. A vector more than ``clip`` whitened
    units from the mean is shrunk to that distance before it is learned, so anomalies barely
    bend ``C``. Eigenvalues are floored at ``min_variance``.

    >>> rng = np.random.default_rng(0)
    >>> w = Whitener()
    >>> for x in rng.normal(size=(500, 1)) * [1.0, 1.0] + rng.normal(0, 0.05, (500, 2)):
    ...     w.learn_one(x)
    >>> [round(float(v), 1) for v in w.transform_one(np.array([1.0, -1.0]))]
    [15.6, -15.5]
    """

    def __init__(
        self,
        alpha: float = 0.01,
        prior: int = 8,
        clip: float = 6.0,
        min_variance: float = 1e-4,
    ) -> None:
        if not 0 < alpha <= 1 or prior < 1 or clip <= 0 or min_variance <= 0:
            raise IsolationError(f"Whitener: expected 0 < alpha <= 1, prior >= 1, clip > 0 and "
                                 f"min_variance > 0, got alpha={alpha}, prior={prior}, "
                                 f"clip={clip}, min_variance={min_variance}")
        self.alpha = alpha
        self.prior = prior
        self.clip = clip
        self.min_variance = min_variance
        self.n = 0
        self.mean: np.ndarray | None = None
        self.cov: np.ndarray | None = None
        self._transform: np.ndarray | None = None

    def _ensure(self, width: int) -> None:
        if self.mean is None:
            self.mean = np.zeros(width)
            self.cov = np.eye(width)
            self._transform = np.eye(width)
        elif self.mean.size != width:
            raise IsolationError(f"Whitener: expected {self.mean.size} features, got {width}")

    def transform_one(self, x: np.ndarray) -> np.ndarray:
        """The whitened vector."""
        return self.transform_many(np.asarray(x, dtype=np.float64)[None, :])[0]

    def transform_many(self, rows: np.ndarray) -> np.ndarray:
        """Whiten each row with the current transform."""
        rows = np.asarray(rows, dtype=np.float64)
        self._ensure(rows.shape[1])
        assert self.mean is not None and self._transform is not None
        return (rows - self.mean) @ self._transform  # W is symmetric

    def reset_feature(self, index: int) -> None:
        """Forget what was learned about one feature (a metric that only now has data)."""
        if self.mean is None or self.cov is None:
            return
        self.mean[index] = 0.0
        self.cov[index, :] = 0.0
        self.cov[:, index] = 0.0
        self.cov[index, index] = 1.0
        self._transform = self._inverse_root(self.cov)

    def learn_one(self, x: np.ndarray) -> None:
        """Move mean and covariance towards ``x`` (shrunk to ``clip`` if it is far out)."""
        x = np.asarray(x, dtype=np.float64)
        self._ensure(x.size)
        assert self.mean is not None and self.cov is not None and self._transform is not None
        if not np.isfinite(x).all():
            return
        deviation = x - self.mean
        distance = float(np.linalg.norm(deviation @ self._transform))
        limit = self.clip * math.sqrt(x.size)
        if distance > limit:
            deviation *= limit / distance
        self.n += 1
        rate = max(self.alpha, 1.0 / (self.n + self.prior))
        self.mean += rate * deviation
        self.cov += rate * (np.outer(deviation, deviation) - self.cov)
        self._transform = self._inverse_root(self.cov)

    def _inverse_root(self, cov: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
        return (vectors / np.sqrt(np.maximum(values, self.min_variance))) @ vectors.T
