"""Scoring a series the ensemble has not learned yet: deviation from its first few values.

The ensemble needs its warm-up (150 samples by default) before it scores; a
series that is new, or sampled every five minutes, would be silent for hours.
Until then, each sample is compared with the mean of the series' recent normal
values (the last ``size`` that were not anomalous, so an ongoing anomaly does not
become the baseline), on a scale that cannot collapse on a short or flat history::

    scale = max(stdev(values), rel_floor * |mean|, abs_floor)
    z = (x - mean) / scale

A sample with ``|z| >= z_threshold`` is reported at ``info`` severity: this is
weaker evidence than the ensemble's calibrated score, good enough to place a
series in an incident and rank it, not to page anyone on its own. The state is
dropped once the ensemble is warm.
"""

import math
from dataclasses import dataclass, field

from operators.anomaly.base import Expectation


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
    """A few recent normal values of one series and the last judgement against them.

    >>> cold = ColdStart(ColdStartSettings())
    >>> [round(cold.update(x), 1) for x in (1.0, 1.1, 0.9, 5.0)]
    [0.0, 0.4, -0.6, 16.0]
    >>> cold.expectation().expected
    1.0
    """

    settings: ColdStartSettings
    values: list[float] = field(default_factory=list)
    mean: float = math.nan
    scale: float = math.nan

    def update(self, x: float) -> float:
        """The sample's z against the history (0 with no history yet), then learn it if normal."""
        if not self.values:
            self.values.append(x)
            self.mean, self.scale = x, math.nan
            return 0.0
        n = len(self.values)
        mean = sum(self.values) / n
        spread = math.sqrt(sum((v - mean) ** 2 for v in self.values) / n)
        s = self.settings
        scale = max(spread, s.rel_floor * abs(mean), s.abs_floor)
        z = (x - mean) / scale
        self.mean, self.scale = mean, scale
        if abs(z) < s.z_threshold:
            self.values.append(x)
            if len(self.values) > s.size:
                del self.values[0]
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
