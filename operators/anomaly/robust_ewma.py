"""Robust exponentially weighted location and scale."""

import math

from operators.anomaly.base import AnomalyDetector, Expectation

# Mean absolute deviation of a normal variable is sigma * sqrt(2/pi).
_MAD_TO_SIGMA = math.sqrt(math.pi / 2)


class RobustEWMA(AnomalyDetector):
    """EWMA of the level and of the absolute deviation, with outliers clipped.

    A point's deviation is clipped at ``clip`` scales before it updates the
    scale, so one spike does not widen the band for the points after it. The
    score is a logistic of the z-score centred on ``z_threshold``: 0.5 exactly
    at the threshold, near 1 a few scales beyond.

    >>> det = RobustEWMA(warmup=10)
    >>> for i in range(200):
    ...     det.learn_one(10.0 + (i % 5) * 0.1, i)
    >>> round(det.score_one(10.2, 200), 3), round(det.score_one(30.0, 200), 3)
    (0.0, 1.0)
    """

    name = "robust_ewma"

    def __init__(
        self,
        alpha: float = 0.02,
        warmup: int = 30,
        z_threshold: float = 4.0,
        clip: float = 6.0,
        rel_scale_floor: float = 1e-3,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.z_threshold = z_threshold
        self.clip = clip
        self.rel_scale_floor = rel_scale_floor
        self.n = 0
        self.mean = 0.0
        self.abs_dev = 0.0

    @property
    def warmed_up(self) -> bool:
        """Whether ``warmup`` samples have been learned."""
        return self.n >= self.warmup

    def _sigma(self) -> float:
        # A floor relative to the level keeps a flat series from alarming on rounding noise.
        floor = max(self.rel_scale_floor * abs(self.mean), 1e-9)
        return max(self.abs_dev * _MAD_TO_SIGMA, floor)

    def z_score(self, value: float) -> float:
        """Signed distance from the level in scales."""
        return (value - self.mean) / self._sigma()

    def score_one(self, value: float, ts_ns: int) -> float:
        """Logistic of ``|z| - z_threshold``; 0 during warm-up."""
        if self.n < self.warmup:
            return 0.0
        excess = abs(value - self.mean) / self._sigma() - self.z_threshold
        if excess < -20:
            return 0.0
        return 1.0 / (1.0 + math.exp(-2.0 * excess))

    def learn_one(self, value: float, ts_ns: int) -> None:
        """Update level and scale; warm-up uses plain running means for a fast start."""
        self.n += 1
        if self.n == 1:
            self.mean = value
            return
        # Until warmed up, a running mean converges faster than a small alpha would.
        rate = max(self.alpha, 1.0 / self.n)
        deviation = value - self.mean
        if self.n > self.warmup:
            limit = self.clip * self._sigma()
            if deviation > limit:
                deviation = limit
            elif deviation < -limit:
                deviation = -limit
        self.mean += rate * deviation
        self.abs_dev += rate * (abs(deviation) - self.abs_dev)

    def expectation(self) -> Expectation | None:
        """Level and the band at ``z_threshold`` scales."""
        if not self.warmed_up:
            return None
        half = self.z_threshold * self._sigma()
        return Expectation(self.mean, self.mean - half, self.mean + half)
