"""Scoring a series the ensemble has not learned yet: deviation from its first few values.

The ensemble needs its warm-up (100 samples by default) before it scores; a
series that is new, or sampled every five minutes, would be silent for hours.
Until then, each sample is compared with the mean of the series' recent normal
values (the last ``size`` that were not anomalous, so an ongoing anomaly does not
become the baseline; a history of one value takes the next one in whatever it is,
so one unlucky first value cannot freeze it), on a scale that cannot collapse on a
short or flat history::

    scale = max(stdev(values), rel_floor * |mean|, abs_floor)
    z = (x - mean) / scale

Series whose level is not clear of their spread (noise around zero) are not
judged: a handful of samples cannot tell their tails. A sample with
``|z| > z_threshold`` is reported at ``info`` severity: this is
weaker evidence than the ensemble's calibrated score, good enough to place a
series in an incident and rank it, not to page anyone on its own. The state is
dropped once the ensemble is warm.

Every new series runs this for its whole warm-up, so it is a numba kernel over one
float64 array like the detectors' (:mod:`operators.anomaly.compiled`): the running
sums, the mean and scale the last sample was judged against, and a ring of the
recent values. It does the pure-Python deque version's arithmetic in the same
order, so its z values are the same to the bit.
"""

import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from alertflow.operators.anomaly.base import DetectorError, Expectation
from alertflow.operators.anomaly.compiled import kernel, require

_CLEAR_LEVEL = 1.0  # judge only series whose mean is at least one stdev clear of zero
_FREEZE_FROM = 2  # an anomaly is kept out of a history of two values or more, not out of one

# State slots; the ring holds ``size + 1`` values: a value is added before the oldest goes.
COUNT, TOTAL, SQUARES, MEAN, SCALE, HEAD = range(6)
RING = 6
# Parameter slots.
Z_THRESHOLD, REL_FLOOR, ABS_FLOOR, SIZE = range(4)


@dataclass(frozen=True, slots=True)
class ColdStartSettings:
    """How strong a deviation from a short history must be to count."""

    enabled: bool = True
    z_threshold: float = 3.0
    rel_floor: float = 0.25
    abs_floor: float = 1e-3
    size: int = 16


@kernel
def cold_start_update(state: np.ndarray, p: np.ndarray, x: float) -> float:
    """``x``'s z against the history (0 when it cannot judge), then learn ``x`` if normal."""
    n = int(state[COUNT])
    z = 0.0
    state[SCALE] = math.nan
    if n:
        mean = state[TOTAL] / n
        spread = math.sqrt(max(state[SQUARES] / n - mean * mean, 0.0))
        state[MEAN] = mean
        if abs(mean) >= _CLEAR_LEVEL * spread:
            scale = max(spread, p[REL_FLOOR] * abs(mean), p[ABS_FLOOR])
            state[SCALE] = scale
            z = (x - mean) / scale
    else:
        state[MEAN] = x
    if abs(z) <= p[Z_THRESHOLD] or n < _FREEZE_FROM:
        size = int(p[SIZE])
        head = int(state[HEAD])
        state[RING + (head + n) % (size + 1)] = x
        state[TOTAL] += x
        state[SQUARES] += x * x
        if n + 1 > size:
            old = state[RING + head]
            state[HEAD] = (head + 1) % (size + 1)
            state[TOTAL] -= old
            state[SQUARES] -= old * old
        else:
            state[COUNT] = n + 1
    return z


@cache
def _params(settings: ColdStartSettings) -> np.ndarray:
    # One array per distinct settings, shared by every series: the kernel only reads it.
    s = settings
    require(s.z_threshold > 0, "cold_start.z_threshold", "a positive number", s.z_threshold)
    require(s.rel_floor >= 0, "cold_start.rel_floor", "a fraction >= 0", s.rel_floor)
    # A positive floor keeps every scale above zero, so the kernel never divides by zero.
    require(s.abs_floor > 0, "cold_start.abs_floor", "a positive number", s.abs_floor)
    require(s.size >= 0 and s.size == int(s.size), "cold_start.size", "a whole number >= 0", s.size)
    return np.array([s.z_threshold, s.rel_floor, s.abs_floor, s.size], dtype=np.float64)


def _initial_state(settings: ColdStartSettings) -> np.ndarray:
    state = np.zeros(RING + int(settings.size) + 1)
    state[MEAN] = state[SCALE] = math.nan
    return state


@dataclass(slots=True, eq=False)  # compare ``state`` arrays explicitly, not with ``==``
class ColdStart:
    """A few recent normal values of one series (running sums) and the last judgement.

    >>> cold = ColdStart(ColdStartSettings())
    >>> [round(cold.update(x), 1) for x in (1.0, 1.1, 0.9, 5.0)]
    [0.0, 0.4, -0.6, 16.0]
    >>> cold.expectation().expected
    1.0
    """

    settings: ColdStartSettings
    state: np.ndarray = field(init=False)
    params: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.params = _params(self.settings)
        self.state = _initial_state(self.settings)

    def update(self, x: float) -> float:
        """The sample's z against the history (0 when it cannot judge), then learn it if normal.

        A series whose level is not clear of its own spread (``|mean| < stdev``, e.g.
        noise around zero) is not judged: a few samples cannot tell its tails.
        """
        return cold_start_update(self.state, self.params, float(x))

    def anomalous(self, z: float) -> bool:
        """Whether ``z`` lies beyond the threshold (a value on the band's edge is inside it)."""
        return abs(z) > self.settings.z_threshold

    def score(self, z: float) -> float:
        """``|z|`` mapped into [0, 1): 0.5 at the threshold, approaching 1 as it grows."""
        return abs(z) / (abs(z) + self.settings.z_threshold)

    def band(self, x: float) -> tuple[float, float, float]:
        """``expectation()``'s expected, lower and upper; ``x`` for all three where it is None."""
        scale = self.state.item(SCALE)
        if math.isnan(scale):
            return x, x, x
        mean = self.state.item(MEAN)
        half = self.settings.z_threshold * scale
        return mean, mean - half, mean + half

    def expectation(self) -> Expectation | None:
        """The mean the last sample was judged against, with the threshold's band."""
        if math.isnan(self.state.item(SCALE)):
            return None
        return Expectation(*self.band(math.nan))

    def __getstate__(self) -> tuple[ColdStartSettings, bytes]:
        # The settings and the state's raw bytes: 184 bytes at the default size, ~310 pickled.
        return self.settings, self.state.tobytes()

    def __setstate__(self, snapshot: tuple[ColdStartSettings | None, Any]) -> None:
        settings, raw = snapshot
        if settings is None:  # a snapshot of the deque version: (None, its slots)
            settings, raw = raw["settings"], _from_deque(raw)
        self.settings = settings
        self.params = _params(settings)
        self.state = np.frombuffer(raw, dtype=np.float64).copy()
        expected = RING + int(settings.size) + 1
        if self.state.size != expected:
            raise DetectorError(
                f"cold start snapshot: expected {expected} state values, got {self.state.size}"
            )


def _from_deque(slots: dict[str, Any]) -> bytes:
    """The state array the deque version's attributes amount to, as bytes."""
    state = _initial_state(slots["settings"])
    values = slots["values"]
    state[COUNT] = len(values)
    state[TOTAL], state[SQUARES] = slots["total"], slots["squares"]
    state[MEAN], state[SCALE] = slots["mean"], slots["scale"]
    state[RING : RING + len(values)] = list(values)
    return state.tobytes()
