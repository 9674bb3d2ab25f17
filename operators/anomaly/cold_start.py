"""Scoring a series the ensemble has not learned yet: deviation from its first few values.

The ensemble needs its warm-up (150 samples by default) before it scores; a
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
``|z| >= z_threshold`` is reported at ``info`` severity: this is
weaker evidence than the ensemble's calibrated score, good enough to place a
series in an incident and rank it, not to page anyone on its own. The state is
dropped once the ensemble is warm.
"""

import math
from collections import deque
from dataclasses import dataclass, field

from operators.anomaly.base import Expectation

_CLEAR_LEVEL = 1.0  # judge only series whose mean is at least one stdev clear of zero
_FREEZE_FROM = 2  # an anomaly is kept out of a history of two values or more, not out of one


@dataclass(frozen=True, slots=True)
class ColdStartSettings:
    """How strong a deviation from a short history must be to count."""

    enabled: bool = True
    z_threshold: float = 3.0
    rel_floor: float = 0.25
    abs_floor: float = 1e-3
    size: int = 16


@dataclass(slots=True)
class ColdStart:
    """A few recent normal values of one series (running sums) and the last judgement.

    >>> cold = ColdStart(ColdStartSettings())
    >>> [round(cold.update(x), 1) for x in (1.0, 1.1, 0.9, 5.0)]
    [0.0, 0.4, -0.6, 16.0]
    >>> cold.expectation().expected
    1.0
    """

    settings: ColdStartSettings
    values: deque = field(default_factory=deque)
    total: float = 0.0
    squares: float = 0.0
    mean: float = math.nan
    scale: float = math.nan

    def update(self, x: float) -> float:
        """The sample's z against the history (0 when it cannot judge), then learn it if normal.

        A series whose level is not clear of its own spread (``|mean| < stdev``, e.g.
        noise around zero) is not judged: a few samples cannot tell its tails.
        """
        values = self.values
        n = len(values)
        z = 0.0
        self.scale = math.nan
        if n:
            mean = self.total / n
            spread = math.sqrt(max(self.squares / n - mean * mean, 0.0))
            self.mean = mean
            if abs(mean) >= _CLEAR_LEVEL * spread:
                s = self.settings
                self.scale = max(spread, s.rel_floor * abs(mean), s.abs_floor)
                z = (x - mean) / self.scale
        else:
            self.mean = x
        if abs(z) < self.settings.z_threshold or n < _FREEZE_FROM:
            values.append(x)
            self.total += x
            self.squares += x * x
            if n + 1 > self.settings.size:
                old = values.popleft()
                self.total -= old
                self.squares -= old * old
        return z

    def anomalous(self, z: float) -> bool:
        """Whether ``z`` crosses the threshold."""
        return abs(z) >= self.settings.z_threshold

    def score(self, z: float) -> float:
        """``|z|`` mapped into [0, 1): 0.5 at the threshold, approaching 1 as it grows."""
        return abs(z) / (abs(z) + self.settings.z_threshold)

    def expectation(self) -> Expectation | None:
        """The mean the last sample was judged against, with the threshold's band."""
        if math.isnan(self.scale):
            return None
        half = self.settings.z_threshold * self.scale
        return Expectation(self.mean, self.mean - half, self.mean + half)
