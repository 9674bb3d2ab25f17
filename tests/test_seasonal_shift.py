"""The daily profile's phase tolerance (``seas_shift_s``): kernel, reference and behaviour."""

import math

import numpy as np
import pytest
from alertflow.operators.anomaly.base import DetectorError
from alertflow.operators.anomaly.ensemble import StreamingEnsemble
from alertflow.operators.anomaly.seasonal import (
    EL,
    ES,
    PROFILE,
    T0,
    seasonal_score,
    seasonal_score_near,
)
from alertflow.schemas.config import DetectorSettings
from hypothesis import given, settings
from hypothesis import strategies as st

HOUR_S = 3600
DAY_S = 86400
MONDAY = 1_529_280_000  # 2018-06-18T00:00:00Z

_value = st.floats(-1e6, 1e6, allow_nan=False)
_bin = st.one_of(st.just(math.nan), _value)


def _reference(seas, x, t, floor, strength, shift_s, huber):
    """Plain Python: the own time's score unless it is an outlier and a time beside fits better."""
    best = seasonal_score.py_func(seas, x, t, floor, strength)
    if shift_s <= 0.0 or not best[1] or best[0] <= huber:
        return best
    for u in (t - shift_s, t + shift_s):
        other = seasonal_score.py_func(seas, x, u, floor, strength)
        if other[1] and other[0] < best[0]:
            best = other
    return best


@settings(max_examples=200, deadline=None)
@given(
    bins=st.lists(_bin, min_size=1, max_size=48),
    head=st.tuples(_value, st.floats(0, 1e3), st.floats(0, 1e3),
                   st.one_of(st.just(0.0), st.floats(1e-3, 1e3))),
    x=_value,
    t=st.floats(0, 4e9),
    floor=st.floats(1e-6, 1e3),
    strength=st.floats(0, 1),
    shift_s=st.sampled_from([0.0, 900.0, 3600.0, 7200.0]),
    huber=st.sampled_from([0.0, 3.0]),
)
def test_the_kernel_is_the_python_reference(bins, head, x, t, floor, strength, shift_s, huber):
    seas = np.zeros(PROFILE + len(bins))
    seas[0], seas[1], seas[ES], seas[EL] = head  # offset, residual MAD, both errors
    seas[T0] = t - 2 * DAY_S  # a profile that has seen two days
    seas[PROFILE:] = bins
    got = seasonal_score_near(seas, x, t, floor, strength, shift_s, huber)
    want = _reference(seas, x, t, floor, strength, shift_s, huber)
    assert got[1] == want[1]
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float),
                               rtol=1e-12, equal_nan=True)
    own = seasonal_score(seas, x, t, floor, strength)
    if shift_s == 0.0 or own[0] <= huber:  # off, or ordinary for its own time: its own bin
        np.testing.assert_array_equal(np.array(got, dtype=float), np.array(own, dtype=float))
    assert got[0] <= own[0]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64),
                       min_size=1, max_size=300),
       step_s=st.sampled_from([60, 300, 3600]))
def test_scores_stay_in_range_on_any_input(values, step_s):
    det = StreamingEnsemble(seas_shift_s=3600.0, warmup=5)
    stamps = (MONDAY + step_s * np.arange(len(values))) * 10**9
    scores = det.update_many(np.asarray(values, dtype=float), stamps)
    assert np.all(np.isfinite(scores))
    assert np.all((scores >= 0.0) & (scores < 1.0))


def _wandering_peak(days=40, seed=11):
    """Hourly: a strong daily peak at 12:00 that comes an hour late on about a third of days."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    late = rng.random(days) < 0.3
    late[:3] = False  # the profile first learns the peak where it usually is
    peak_hour = (12 + late).repeat(24)
    values = 100.0 + rng.normal(0.0, 2.0, hours.size)
    values[hours % 24 == peak_hour] += 80.0
    return hours, values


def test_a_daily_peak_an_hour_late_is_no_incident():
    hours, values = _wandering_peak()
    late = hours >= 15 * 24
    stamps = (MONDAY + HOUR_S * hours) * 10**9
    off = StreamingEnsemble().update_many(values, stamps)
    on = StreamingEnsemble(seas_shift_s=3600.0).update_many(values, stamps)
    assert DetectorSettings().seas_shift_s == 0.0  # off unless cross-validation ships it
    assert (off[late] >= 0.21).sum() >= 1  # the wandering peak pages without tolerance
    assert (on[late] >= 0.21).sum() == 0
    # the same surge six hours from the peak is out of place for the time of day
    surge = 30 * 24 + 18
    values = values.copy()
    values[surge] += 80.0
    on = StreamingEnsemble(seas_shift_s=3600.0).update_many(values, stamps)
    assert on[surge] >= 0.21


def test_a_negative_shift_is_refused():
    with pytest.raises(DetectorError):
        StreamingEnsemble(seas_shift_s=-1.0)
