"""Forecast intervals from the errors of earlier forecasts, tracked per horizon checkpoint.

Each checkpoint keeps its error's mean absolute value and its lower and upper quantiles
(stochastic quantile tracking), so an interval is as wide as the series has earned.
"""

import math
from dataclasses import dataclass, field

import numpy as np

# Horizons (in steps) at which forecast errors are tracked; intervals interpolate between them.
CHECKPOINTS = (1, 2, 3, 6, 12, 24, 36, 48)


@dataclass(slots=True)
class ErrorQuantiles:
    """Per-checkpoint error quantiles (lower, upper) and mean absolute error.

    Plain lists: a few scalar updates per bucket cost less than numpy's per-call overhead.
    """

    lower: list[float] = field(default_factory=lambda: [0.0] * len(CHECKPOINTS))
    upper: list[float] = field(default_factory=lambda: [0.0] * len(CHECKPOINTS))
    mae: list[float] = field(default_factory=lambda: [0.0] * len(CHECKPOINTS))
    seen: list[int] = field(default_factory=lambda: [0] * len(CHECKPOINTS))

    def add(self, i: int, e: float, mae1: float, coverage: float, rate: float) -> None:
        """Fold the error ``e`` (outcome minus forecast) of checkpoint ``i`` in."""
        tau_lo, tau_hi = (1 - coverage) / 2, (1 + coverage) / 2
        if self.seen[i] == 0:
            self.mae[i] = abs(e) or mae1
            self.lower[i] = -1.645 * 1.25 * self.mae[i]
            self.upper[i] = 1.645 * 1.25 * self.mae[i]
        else:
            self.mae[i] = 0.97 * self.mae[i] + 0.03 * abs(e)
        # Stochastic quantile tracking, steps scaled so each side settles at its tau.
        step = 0.25 * rate * self.mae[i]
        self.lower[i] += step * (tau_lo - (e < self.lower[i])) / tau_lo
        self.upper[i] += step * (tau_hi - (e < self.upper[i])) / (1 - tau_hi)
        self.seen[i] += 1

    def interval(self, steps: int, mae1: float, coverage: float) -> tuple[np.ndarray, np.ndarray]:
        """Offsets (lower, upper) per step: tracked at checkpoints, a sqrt-of-h guess elsewhere."""
        k = np.arange(1, steps + 1)
        z = 1.645 if coverage == 0.9 else _z(coverage)
        guess = 1.25 * z * max(mae1, 1e-9) * np.sqrt(k)
        known = [i for i, c in enumerate(CHECKPOINTS) if self.seen[i] >= 5 and c <= steps]
        if not known:
            return -guess, guess
        xs = np.array([CHECKPOINTS[i] for i in known], dtype=float)
        lower = np.interp(k, xs, [self.lower[i] for i in known])
        upper = np.interp(k, xs, [self.upper[i] for i in known])
        # Beyond the last tracked checkpoint the spread grows like a random walk's.
        beyond = k > xs[-1]
        growth = np.sqrt(k[beyond] / xs[-1])
        lower[beyond] *= growth
        upper[beyond] *= growth
        return np.minimum(lower, 0.0), np.maximum(upper, 0.0)


def _z(coverage: float) -> float:
    """The two-sided normal quantile for a central ``coverage`` (bisection on erf)."""
    lo, hi = 0.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if math.erf(mid / math.sqrt(2)) < coverage:
            lo = mid
        else:
            hi = mid
    return lo
