"""The checks every detector in ``operators.anomaly`` obeys, run against each one found there.

A new detector gets the whole suite by subclassing ``AnomalyDetector`` in that package.
"""

import copy
import importlib
import inspect
import math
import pickle
import pkgutil

import alertflow.operators.anomaly as package
import numpy as np
import pytest
from alertflow.operators.anomaly import AnomalyDetector, DetectorError

MINUTE_NS = 60 * 10**9
T0_NS = 1_396_310_400 * 10**9  # 2014-04-01T00:00:00Z
MAX_SNAPSHOT_BYTES = 2048


def discover() -> list[type[AnomalyDetector]]:
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
    found, stack = [], [AnomalyDetector]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if not inspect.isabstract(sub) and sub.__module__.startswith(package.__name__):
                found.append(sub)
    return sorted(set(found), key=lambda cls: cls.__name__)


DETECTORS = discover()


def series(n=600, seed=0, step_ns=5 * MINUTE_NS):
    """A day-periodic noisy metric with a spike, and its timestamps."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    values = 100.0 + 10.0 * np.sin(2 * np.pi * i / 288) + rng.normal(0.0, 1.0, n)
    values[n // 2] += 40.0
    return values, T0_NS + i * step_ns


def per_sample(det, values, stamps):
    return [det.update(float(v), int(t)) for v, t in zip(values, stamps, strict=True)]


def test_discovery_finds_every_detector():
    names = {cls.__name__ for cls in DETECTORS}
    assert {"RobustEWMA", "StreamingEnsemble", "HoltForecaster", "DailyProfile", "LevelShift",
            "RangeDetector", "AnomalyLikelihood", "PostDetectionSuppression",
            "LongRunDistribution"} <= names


@pytest.fixture(params=DETECTORS, ids=lambda cls: cls.__name__)
def cls(request):
    return request.param


def test_scores_lie_in_unit_interval_and_are_zero_during_warmup(cls):
    det = cls()
    values, stamps = series()
    for v, t in zip(values.tolist(), stamps.tolist(), strict=True):
        warm = det.warmed_up
        score = det.update(v, t)
        assert 0.0 <= score <= 1.0
        if not warm:
            assert score == 0.0
    assert det.warmed_up


def test_survives_pickling_and_deepcopy_with_identical_future(cls):
    det = cls()
    values, stamps = series(900)
    det.update_many(values[:500], stamps[:500])
    clones = [pickle.loads(pickle.dumps(det)), copy.deepcopy(det)]
    expected = det.update_many(values[500:], stamps[500:])
    for clone in clones:
        assert np.array_equal(clone.update_many(values[500:], stamps[500:]), expected)


def test_same_settings_give_the_same_scores(cls):
    values, stamps = series(seed=3)
    assert np.array_equal(cls().update_many(values, stamps), cls().update_many(values, stamps))


def test_every_entry_point_gives_the_same_scores(cls):
    values, stamps = series(400, seed=4)
    batch = cls().update_many(values, stamps)
    one_by_one = per_sample(cls(), values, stamps)
    det, split = cls(), []
    for v, t in zip(values.tolist(), stamps.tolist(), strict=True):
        split.append(det.score_one(v, t))
        det.learn_one(v, t)
    assert batch.tolist() == one_by_one == split


def test_score_one_does_not_change_the_model(cls):
    det = cls()
    values, stamps = series(300)
    det.update_many(values, stamps)
    before = pickle.dumps(det)
    first = det.score_one(500.0, int(stamps[-1]) + MINUTE_NS)
    assert det.score_one(500.0, int(stamps[-1]) + MINUTE_NS) == first
    det.score_one(-3.0, int(stamps[-1]) + 2 * MINUTE_NS)
    assert pickle.dumps(det) == before


def test_inputs_are_not_mutated_and_may_be_read_only(cls):
    values, stamps = series()
    kept_values, kept_stamps = values.copy(), stamps.copy()
    scores = cls().update_many(values, stamps)
    assert np.array_equal(values, kept_values) and np.array_equal(stamps, kept_stamps)
    values.flags.writeable = stamps.flags.writeable = False
    assert np.array_equal(cls().update_many(values, stamps), scores)


def test_state_is_fixed_size_and_small(cls):
    det = cls()
    values, stamps = series(50)
    det.update_many(values, stamps)
    size = len(pickle.dumps(det))
    values, stamps = series(5000, seed=1)
    det.update_many(values, stamps + 50 * 5 * MINUTE_NS)
    assert len(pickle.dumps(det)) == size <= MAX_SNAPSHOT_BYTES


def test_nan_inf_gaps_and_disorder_do_not_break_it(cls):
    det = cls()
    values, stamps = series(400)
    values[[10, 200, 250]] = [math.nan, math.inf, -math.inf]
    values[300:303] = [1e308, -1e308, 1e-300]
    stamps[100:] += 3 * 86_400 * 10**9  # a three-day gap
    stamps[[150, 151]] = stamps[[151, 150]]  # out of order
    stamps[160] = stamps[159]  # a duplicate
    stamps[170] = -stamps[170]  # before 1970
    scores = det.update_many(values, stamps)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert scores[10] == scores[200] == scores[250] == 0.0
    assert det.n == 397
    after = det.update_many(*series(100, seed=2))
    assert np.all((after >= 0.0) & (after <= 1.0))
    assert not np.isinf(det.state).any()


def test_non_finite_values_are_not_learned(cls):
    det = cls()
    values, stamps = series(200)
    det.update_many(values, stamps)
    before = pickle.dumps(det)
    assert det.update(math.nan, int(stamps[-1]) + MINUTE_NS) == 0.0
    assert det.update(math.inf, int(stamps[-1]) + MINUTE_NS) == 0.0
    assert pickle.dumps(det) == before


def test_expectation_and_contributors_describe_the_last_score(cls):
    det = cls()
    assert det.expectation() is None
    values, stamps = series()
    for v, t in zip(values.tolist(), stamps.tolist(), strict=True):
        score = det.update(v, t)
        band = det.expectation()
        if band is not None:
            assert band.lower <= band.expected <= band.upper
            assert all(math.isfinite(x) for x in (band.lower, band.expected, band.upper))
        names = det.contributors()
        assert all(isinstance(name, str) for name in names)
        if score == 0.0:
            assert names in ([], ["level_shift"])


def test_mismatched_arrays_are_refused(cls):
    with pytest.raises(DetectorError, match="one length"):
        cls().update_many(np.zeros(3), np.zeros(4, dtype=np.int64))


def test_datetime64_stamps_and_no_stamps_are_accepted(cls):
    values, stamps = series(300)
    as_ns = cls().update_many(values, stamps)
    as_datetime = cls().update_many(values, stamps.astype("datetime64[ns]"))
    assert np.array_equal(as_ns, as_datetime)
    assert cls().update_many(values, None).shape == values.shape
