"""Dynamic thresholds: fire/clear levels that ride the forecaster's baseline.

A series' residual is its value minus the learned baseline (level plus daily and weekly
season, no trend: a trend is what breach prediction looks for). The fire level is the
baseline plus the ``1 - rate`` quantile of recent residuals, so about ``rate`` of samples
lie beyond it; the clear level uses the ``1 - clear_factor * rate`` quantile, lower, and
both need the value to stay past them for ``min_fire_s`` / ``min_clear_s`` before the
state changes, so noise at the level does not flap.

>>> from alertflow.schemas.config_prediction import DynamicSpec
>>> d = DynamicLevels(DynamicSpec(rate=0.1, min_fire_s=0, min_clear_s=0, window=50))
>>> events = [d.observe(float(i % 10), i * 10**9, 0.0) for i in range(100)]
>>> round(d.fire_offset, 2), d.clear_offset
(8.1, 4.5)
"""

from collections import deque

import numpy as np
from alertflow.schemas.config_prediction import DynamicSpec

NS_PER_S = 1_000_000_000
_REFRESH = 16  # quantiles are recomputed every this many residuals: a sort is not per-sample


class DynamicLevels:
    """One series' dynamic levels and its fire/clear state (picklable: plain fields)."""

    def __init__(self, spec: DynamicSpec) -> None:
        self.spec = spec
        self.sign = 1.0 if spec.direction == "above" else -1.0
        self.residuals: deque[float] = deque(maxlen=spec.window)
        self.fire_offset: float | None = None  # above the baseline (signed by direction)
        self.clear_offset: float | None = None
        self.firing = False
        self.since_ns: int | None = None  # when the value first stood past the level to cross
        self.seen = 0

    @property
    def warm(self) -> bool:
        """Whether enough residuals were seen for the levels to mean their rate."""
        return self.fire_offset is not None

    def fire_level(self, baseline: "float | np.ndarray") -> "float | np.ndarray":
        """The fire level at a baseline, or along a path of them (NaN before warm-up)."""
        if self.fire_offset is None:
            return float("nan")
        return baseline + self.sign * self.fire_offset

    def clear_level(self, baseline: float) -> float:
        """The clear level at a baseline (NaN before warm-up)."""
        if self.clear_offset is None:
            return float("nan")
        return baseline + self.sign * self.clear_offset

    def observe(self, value: float, ts_ns: int, baseline: float) -> str | None:
        """Learn one sample against its baseline; ``fire``/``clear`` when the state changes."""
        residual = self.sign * (value - baseline)
        event = self._step(residual, ts_ns) if self.warm else None
        self.residuals.append(residual)
        self.seen += 1
        if self.seen % _REFRESH == 0 and len(self.residuals) >= min(self.spec.window, 50):
            self._refresh()
        return event

    def _step(self, residual: float, ts_ns: int) -> str | None:
        assert self.fire_offset is not None and self.clear_offset is not None
        if self.firing:
            past, hold, event = residual < self.clear_offset, self.spec.min_clear_s, "clear"
        else:
            past, hold, event = residual > self.fire_offset, self.spec.min_fire_s, "fire"
        if not past:
            self.since_ns = None
            return None
        if self.since_ns is None:
            self.since_ns = ts_ns
        if ts_ns - self.since_ns < hold * NS_PER_S:
            return None
        self.firing = not self.firing
        self.since_ns = None
        return event

    def _refresh(self) -> None:
        values = np.fromiter(self.residuals, float, len(self.residuals))
        rate = self.spec.rate
        clear_q = max(0.5, 1.0 - self.spec.clear_factor * rate)
        fire, clear = np.quantile(values, [1.0 - rate, clear_q])
        self.fire_offset = float(fire)
        self.clear_offset = float(min(clear, fire))
