"""Evidence against a series' own ordinary day: the daily-peak calibration, in 4 floats.

A likelihood says how rare a sample's surprise is under a Gaussian tail; on a noisy hourly
series (ad prices, request rates with a daily rush) some sample is that "rare" every day,
so the same evidence that means an incident on a calm series is a daily event on another.
This component remembers how large each day's largest evidence was (a geometric mean of
the daily maxima over about ``PEAK_MEMORY_DAYS`` days) and takes ``recall`` of that
typical daily peak off the evidence: what is left is how much rarer this moment is than
the rarest moment of an ordinary day, which means the same on hourly, per-minute, count and
latency series. The mean is over days, not samples, so a burst of labelled incidents on a
third of the days does not make them ordinary.
"""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import kernel

# Slots, relative to the component's segment: the current day's start (s) and largest
# evidence, the mean log1p of past daily peaks, and how many days it has seen.
DAY_T, DAY_MAX, LOG_PEAK, DAYS = range(4)
PEAK_SIZE = 4
DAY_S = 86400.0
# About two weeks: long enough to span a weekly cycle, short enough to follow a regime.
PEAK_MEMORY_DAYS = 14.0
# Days seen before the typical peak is trusted (one day's maximum says little).
PEAK_MIN_DAYS = 2.0


@kernel
def peak_init(peak: np.ndarray, t: float) -> None:
    """A calibration that starts its first day at ``t`` seconds."""
    peak[DAY_T] = t
    peak[DAY_MAX] = 0.0
    peak[LOG_PEAK] = 0.0
    peak[DAYS] = 0.0


@kernel
def peak_calibrate(peak: np.ndarray, evidence: float, t: float, recall: float) -> float:
    """Learn ``evidence`` at ``t``; return it less ``recall`` of the typical daily peak.

    The typical peak is that of past complete days only, so a day's own incident does not
    excuse itself; nothing is taken off before ``PEAK_MIN_DAYS`` days.
    """
    if t - peak[DAY_T] >= DAY_S:
        days = peak[DAYS] + 1.0
        a = max(1.0 / days, 1.0 / PEAK_MEMORY_DAYS)
        peak[LOG_PEAK] += a * (math.log1p(peak[DAY_MAX]) - peak[LOG_PEAK])
        peak[DAYS] = days
        peak[DAY_T] += DAY_S * math.floor((t - peak[DAY_T]) / DAY_S)
        peak[DAY_MAX] = 0.0
    peak[DAY_MAX] = max(peak[DAY_MAX], evidence)
    if peak[DAYS] < PEAK_MIN_DAYS:
        return evidence
    return max(0.0, evidence - recall * math.expm1(peak[LOG_PEAK]))
