"""The generic checks every detector obeys, then behaviour on crafted series."""

import copy
import math
import pickle

import pytest

from operators.anomaly import AnomalyDetector, RobustEWMA

DETECTORS = [RobustEWMA]


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


@pytest.mark.parametrize("cls", DETECTORS)
def test_scores_in_unit_interval_and_zero_during_warmup(cls):
    det = cls()
    scores = _scores(det, [*_series(), 1000000000.0, -1000000000.0, 0.0])
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] == 0.0


@pytest.mark.parametrize("cls", DETECTORS)
def test_survives_pickling_with_identical_future(cls):
    det = cls()
    _scores(det, _series(200))
    clone = pickle.loads(pickle.dumps(det))
    rest = _series(100, seed=3)
    assert _scores(det, rest) == _scores(clone, rest)


@pytest.mark.parametrize("cls", DETECTORS)
def test_deterministic(cls):
    assert _scores(cls(), _series()) == _scores(cls(), _series())


@pytest.mark.parametrize("cls", DETECTORS)
def test_input_not_mutated(cls):
    values = _series()
    before = copy.deepcopy(values)
    _scores(cls(), values)
    assert values == before


@pytest.mark.parametrize("cls", DETECTORS)
def test_state_stays_bounded(cls):
    det = cls()
    _scores(det, _series(50))
    size = len(pickle.dumps(det))
    _scores(det, _series(5000, seed=1))
    assert len(pickle.dumps(det)) <= size + 64


@pytest.mark.parametrize("cls", DETECTORS)
def test_extreme_values_do_not_break_the_model(cls):
    det = cls()
    _scores(det, [*_series(100), 1e308, -1e308])
    after = _scores(det, _series(50, seed=2))
    assert all(math.isfinite(s) for s in after)


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
