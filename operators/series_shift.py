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

The step is a numba kernel over two small arrays: in Python it cost about as much as the
detector's own compiled step, per sample of every series.
"""

import math

import numba
import numpy as np

# The mean absolute deviation of a normal is 0.798 of its standard deviation.
_MAD_TO_STD = 1.2533
# A constant series that moves is infinitely shifted; this keeps it comparable and finite.
SHIFT_CAP = 100.0
# Slots of the integer state (epoch nanoseconds and counts) and of the float state.
_N, _LAST, _ONSET, _CALM, _DT, _CALM_SAMPLES, _WARMUP = range(7)
_LEVEL, _DEV, _ALPHA, _HORIZON, _ENTER = range(5)
_NONE = -(2**62)  # no excursion under way


@numba.njit(cache=True)
def _learn(f: np.ndarray, i: np.ndarray, value: float, ts_ns: int, alpha: float) -> None:
    i[_N] += 1
    if ts_ns > i[_LAST]:
        i[_LAST] = ts_ns
    if alpha > 0.0:
        if i[_N] > 1:
            f[_DEV] += alpha * (abs(value - f[_LEVEL]) - f[_DEV])
        f[_LEVEL] += alpha * (value - f[_LEVEL])


@numba.njit(cache=True)
def _step(f: np.ndarray, i: np.ndarray, value: float, ts_ns: int) -> float:
    """Judge then learn one sample; NaN while warming up.

    The settings live in the arrays too: every argument costs time in numba's dispatch,
    which is most of this step's cost.
    """
    horizon_ns, enter = f[_HORIZON], f[_ENTER]
    if i[_N] < i[_WARMUP]:
        _learn(f, i, value, ts_ns, 1.0 / (i[_N] + 1))
        return math.nan
    scale = _MAD_TO_STD * f[_DEV]
    moved = value - f[_LEVEL]
    if scale > 0.0:
        z = moved / scale
        if z > SHIFT_CAP or z < -SHIFT_CAP:
            z = math.copysign(SHIFT_CAP, z)
    else:
        z = 0.0 if moved == 0.0 else math.copysign(SHIFT_CAP, moved)
    if z >= enter or z <= -enter:
        if i[_ONSET] == _NONE:
            i[_ONSET] = ts_ns
        i[_CALM] = 0
        if ts_ns - i[_ONSET] <= horizon_ns:
            return z  # the baseline stays the one from before the move
        # Moved for longer than the baseline remembers: this is the series' level now.
    elif i[_ONSET] != _NONE:
        i[_CALM] += 1
        if i[_CALM] >= i[_CALM_SAMPLES]:
            i[_ONSET] = _NONE
    dt = ts_ns - i[_LAST]
    alpha = 0.0
    if dt > 0:
        # Series are sampled at a steady interval: the exp is computed when it changes.
        if dt != i[_DT]:
            i[_DT] = dt
            f[_ALPHA] = 1.0 - math.exp(-dt / horizon_ns)
        alpha = f[_ALPHA]
    _learn(f, i, value, ts_ns, alpha)
    return z


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

    __slots__ = ("f", "i")

    def __init__(
        self,
        horizon_s: float = 3600.0,
        enter: float = 3.0,
        calm_samples: int = 3,
        warmup: int = 10,
    ) -> None:
        # level, mean absolute deviation, last learning rate; then the settings
        self.f = np.array([0.0, 0.0, 0.0, horizon_s * 1e9, enter])
        # samples learnt, last timestamp, onset, calm samples, last step; then the settings
        self.i = np.array([0, -1, _NONE, 0, 0, calm_samples, warmup], dtype=np.int64)

    def update(self, value: float, ts_ns: int) -> float | None:
        """Judge then learn one sample: its signed shift in spreads, None while warming up."""
        z = _step(self.f, self.i, float(value), int(ts_ns))
        return None if z != z else z  # NaN: still warming up

    @property
    def onset_ns(self) -> int | None:
        """When the current move away from the baseline began; None when there is none."""
        onset = int(self.i[_ONSET])
        return None if onset == _NONE else onset

    @property
    def level(self) -> float:
        """The baseline level."""
        return float(self.f[_LEVEL])
