"""How far a series moved from its own recent level, and since when (issue 10, mode 7).

Root-cause ranking compares services by what changed *at the incident's start*: a
detector's score says how unusual one sample is, not how far the series has moved from
where it stood before the trouble began, nor when that move began. A
:class:`ShiftTracker` keeps, per series, an exponentially weighted level and mean
absolute deviation over about ``horizon_s`` of calm samples (five floats), and the
current excursion: the first sample at least ``enter`` spreads away (its *onset*), until
``calm_samples`` samples in a row are back within it. While an excursion lasts the
baseline is frozen, so the shift is measured against the hour before it began; an
excursion longer than the horizon is the new normal and is learnt again.
"""

import math

# The mean absolute deviation of a normal is 0.798 of its standard deviation.
_MAD_TO_STD = 1.2533
# A constant series that moves is infinitely shifted; this keeps it comparable and finite.
SHIFT_CAP = 100.0


class ShiftTracker:
    """One series' baseline and current excursion; bounded state, O(1) per sample.

    >>> t = ShiftTracker(warmup=5)
    >>> for i in range(20):
    ...     _ = t.update(10.0 + (i % 2), i * 10**10)
    >>> round(t.update(20.0, 20 * 10**10), 1), t.onset_ns == 20 * 10**10
    (14.4, True)
    >>> round(t.update(21.0, 21 * 10**10), 1), t.onset_ns == 20 * 10**10
    (15.9, True)
    """

    __slots__ = ("alpha", "calm", "calm_samples", "dev", "dt_ns", "enter", "horizon_ns",
                 "last_ns", "level", "n", "onset_ns", "warmup")  # fmt: skip

    def __init__(
        self,
        horizon_s: float = 3600.0,
        enter: float = 3.0,
        calm_samples: int = 3,
        warmup: int = 10,
    ) -> None:
        self.horizon_ns = horizon_s * 1e9
        self.enter = enter
        self.calm_samples = calm_samples
        self.warmup = warmup
        self.level = 0.0
        self.dev = 0.0
        self.n = 0
        self.last_ns = -1
        self.onset_ns: int | None = None  # the current excursion's first sample
        self.calm = 0  # samples in a row back within ``enter`` during an excursion
        # The learning rate of the last step: series are sampled at a steady interval, so
        # it is computed again only when the interval changes (the exp is most of the cost).
        self.dt_ns = 0
        self.alpha = 0.0

    def update(self, value: float, ts_ns: int) -> float | None:
        """Judge then learn one sample: its signed shift in spreads, None while warming up."""
        if self.n < self.warmup:
            self._learn(value, ts_ns, 1.0 / (self.n + 1))
            return None
        scale = _MAD_TO_STD * self.dev
        moved = value - self.level
        if scale > 0.0:
            z = moved / scale
            if z > SHIFT_CAP or z < -SHIFT_CAP:
                z = math.copysign(SHIFT_CAP, z)
        else:
            z = 0.0 if moved == 0.0 else math.copysign(SHIFT_CAP, moved)
        if z >= self.enter or z <= -self.enter:
            if self.onset_ns is None:
                self.onset_ns = ts_ns
            self.calm = 0
            if ts_ns - self.onset_ns <= self.horizon_ns:
                return z  # the baseline stays the one from before the move
            # Moved for longer than the baseline remembers: this is the series' level now.
        elif self.onset_ns is not None:
            self.calm += 1
            if self.calm >= self.calm_samples:
                self.onset_ns = None
        self._learn(value, ts_ns, self._alpha(ts_ns))
        return z

    def _alpha(self, ts_ns: int) -> float:
        dt = ts_ns - self.last_ns
        if dt <= 0:
            return 0.0
        if dt != self.dt_ns:
            self.dt_ns = dt
            self.alpha = 1.0 - math.exp(-dt / self.horizon_ns)
        return self.alpha

    def _learn(self, value: float, ts_ns: int, alpha: float) -> None:
        self.n += 1
        if ts_ns > self.last_ns:
            self.last_ns = ts_ns
        if alpha > 0.0:
            if self.n > 1:
                self.dev += alpha * (abs(value - self.level) - self.dev)
            self.level += alpha * (value - self.level)
