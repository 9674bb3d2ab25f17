"""The robust level (RobustEWMA) on crafted series.

The rules every detector obeys (pickling, determinism, bounded state, bad input) are
checked for all of them in ``test_detector_suite.py``.
"""

import math

import pytest
from alertflow.operators.anomaly import AnomalyDetector, RobustEWMA


def _series(n=400, seed=0):
    import random

    rng = random.Random(seed)
    return [100.0 + rng.gauss(0, 1) for _ in range(n)]


def _scores(det: AnomalyDetector, values):
    out = []
    for i, v in enumerate(values):
        out.append(det.score_one(v, i))
        det.learn_one(v, i)
    return out


@pytest.mark.parametrize(
    ("name", "values", "index", "expect_anomaly"),
    [
        ("spike", [*_series(300), 160.0, *_series(20, 1)], 300, True),
        ("dip", [*_series(300), 40.0, *_series(20, 1)], 300, True),
        ("ordinary point", [*_series(300), 101.0], 300, False),
        ("flatline then change", [5.0] * 300 + [6.0], 300, True),
        ("flatline stays flat", [5.0] * 300 + [5.0], 300, False),
    ],
)
def test_behaviour(name, values, index, expect_anomaly):
    scores = _scores(RobustEWMA(), values)
    assert (scores[index] >= 0.5) is expect_anomaly, name


def test_one_spike_does_not_blind_the_detector():
    values = [*_series(300), 200.0, *_series(5, 4), 200.0]
    scores = _scores(RobustEWMA(), values)
    assert scores[300] >= 0.5 and scores[-1] >= 0.5


def test_level_shift_is_learned():
    values = _series(300) + [v + 30 for v in _series(1500, 5)]
    scores = _scores(RobustEWMA(), values)
    assert scores[300] >= 0.5
    assert max(scores[-200:]) < 0.5


def test_extreme_values_do_not_break_the_model():
    det = RobustEWMA()
    _scores(det, [*_series(100), 1e308, -1e308])
    after = _scores(det, _series(50, seed=2))
    assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in after)


def test_band_is_the_threshold_in_scales_around_the_level():
    det = RobustEWMA()
    _scores(det, _series(300))
    det.score_one(100.0, 300)
    band = det.expectation()
    assert band.lower < band.expected < band.upper
    assert band.upper - band.expected == pytest.approx(band.expected - band.lower)
    assert 99.0 < band.expected < 101.0 and 2.0 < band.upper - band.expected < 6.0
