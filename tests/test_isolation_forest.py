"""The streaming isolation forest and the per-series detector built on it."""

import copy
import math
import pickle

import numpy as np
import pytest
from alertflow.operators.isolation import IsolationForest, IsolationWindowDetector
from alertflow.operators.isolation.errors import IsolationError
from alertflow.operators.isolation.rowwise import scale_rows, window_features

SMALL = {"n_trees": 16, "window_size": 128, "sample_size": 64, "warmup": 32}


def _gaussian(rng, n, d):
    return rng.normal(size=(n, d))


def _correlated(rng, n, d):
    base = rng.uniform(-2, 2, size=(n, 1))
    return base + 0.05 * rng.normal(size=(n, d))


def _clusters(rng, n, d):
    centres = np.array([[-3.0] * d, [3.0] * d])
    return centres[rng.integers(0, 2, n)] + 0.3 * rng.normal(size=(n, d))


# (name, generator, dims, outlier, settings)
OUTLIER_CASES = [
    ("far point, 2-d gaussian", _gaussian, 2, [6.0, -6.0], {}),
    ("one coordinate off, 3-d gaussian", _gaussian, 3, [0.0, 7.0, 0.0], {}),
    ("between two clusters", _clusters, 2, [0.0, 0.0], {}),
    ("off the diagonal, oblique splits", _correlated, 2, [1.5, -1.5], {"extension_level": None}),
    ("off the diagonal, axis splits", _correlated, 2, [1.5, -1.5], {}),
    ("far point, no range extension", _gaussian, 2, [6.0, 6.0], {"extend_ranges": False}),
    ("far point, 4-d, oblique splits", _gaussian, 4, [0.0, 0.0, 8.0, 0.0],
     {"extension_level": None}),
]


@pytest.mark.parametrize(("name", "make", "dims", "outlier", "settings"), OUTLIER_CASES,
                         ids=[c[0] for c in OUTLIER_CASES])
def test_injected_outlier_scores_above_every_inlier(name, make, dims, outlier, settings):
    rng = np.random.default_rng(1)
    forest = IsolationForest(seed=2, **settings)
    forest.update_many(make(rng, 600, dims))
    inliers = forest.score_many(make(rng, 200, dims))
    score = forest.score_one(np.array(outlier))
    assert inliers.min() >= 0.0 and score <= 1.0
    assert score > inliers.max(), (name, score, np.quantile(inliers, [0.5, 1.0]))


def test_scores_zero_during_warmup_and_nan_for_non_finite_points():
    forest = IsolationForest(**SMALL)
    rows = np.random.default_rng(0).normal(size=(40, 2))
    rows[5] = [np.nan, 1.0]
    rows[6] = [np.inf, 1.0]
    scores = forest.update_many(rows)
    assert np.isnan(scores[5]) and np.isnan(scores[6])
    finite = np.delete(scores, [5, 6])
    assert (finite[:32] == 0.0).all() and (finite[32:] > 0.0).all()
    assert forest.n_learned == 38  # the two non-finite rows were not learned


def test_non_finite_rows_leave_no_trace():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(400, 3))
    with_gaps = np.insert(rows, [50, 200, 201], np.nan, axis=0)
    clean = IsolationForest(**SMALL).update_many(rows)
    gappy = IsolationForest(**SMALL).update_many(with_gaps)
    np.testing.assert_array_equal(gappy[np.isfinite(gappy)], clean)


@pytest.mark.parametrize("settings", [SMALL, {**SMALL, "rebuild_every": 50},
                                      {**SMALL, "extension_level": None}])
def test_update_many_equals_score_then_learn_one_at_a_time(settings):
    rows = np.random.default_rng(4).normal(size=(500, 3))
    rows[77, 1] = np.nan
    batch = IsolationForest(**settings).update_many(rows)
    forest, one = IsolationForest(**settings), []
    for row in rows:
        one.append(forest.score_one(row))
        forest.learn_one(row)
    np.testing.assert_array_equal(batch, np.array(one))


def test_same_seed_same_scores_other_seed_other_scores():
    rows = np.random.default_rng(5).normal(size=(500, 2))
    first = IsolationForest(seed=7, **SMALL).update_many(rows)
    again = IsolationForest(seed=7, **SMALL).update_many(rows)
    other = IsolationForest(seed=8, **SMALL).update_many(rows)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("extension_level", [0, 1, None])
def test_loop_and_numpy_kernels_grow_and_score_identically(extension_level, monkeypatch):
    # The loop kernels are numba-compiled when numba is installed, plain Python otherwise.
    rows = np.random.default_rng(6).normal(size=(300, 4))
    rows[:, 3] = np.round(rows[:, 3])  # ties and constant nodes
    settings = {**SMALL, "extension_level": extension_level}
    monkeypatch.setattr(IsolationForest, "use_jit", True)
    fast = IsolationForest(**settings)
    fast_scores = fast.update_many(rows)
    monkeypatch.setattr(IsolationForest, "use_jit", False)
    slow = IsolationForest(**settings)
    np.testing.assert_array_equal(slow.update_many(rows), fast_scores)
    for mine, theirs in zip(fast._trees, slow._trees, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_rowwise_kernels_agree_compiled_and_interpreted():
    compiled = [f for f in (scale_rows, window_features) if hasattr(f, "py_func")]
    if not compiled:
        pytest.skip("numba is not installed")
    rows = np.random.default_rng(7).normal(size=(50, 3))
    state = [np.zeros(3, dtype=np.int64), np.zeros(3), np.zeros(3)]
    twin = [a.copy() for a in state]
    fast = scale_rows(rows, *state, 0.05, 5, 4.0, 1e-3, True)
    slow = scale_rows.py_func(rows, *twin, 0.05, 5, 4.0, 1e-3, True)
    np.testing.assert_array_equal(fast, slow)
    for a, b in zip(state, twin, strict=True):
        np.testing.assert_array_equal(a, b)
    history, twin_history = np.zeros(4), np.zeros(4)
    got = window_features(history, 0, rows[:, 0].copy(), True)
    want = window_features.py_func(twin_history, 0, rows[:, 0].copy(), True)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1] == 4


def test_pickle_round_trip_gives_identical_future_scores():
    rng = np.random.default_rng(8)
    forest = IsolationForest(**SMALL)
    forest.update_many(rng.normal(size=(300, 2)))
    restored = pickle.loads(pickle.dumps(forest))
    future = rng.normal(size=(300, 2))
    np.testing.assert_array_equal(restored.update_many(future), forest.update_many(future))


def test_state_stays_bounded_on_a_long_stream():
    rng = np.random.default_rng(9)
    forest = IsolationForest(**SMALL)
    forest.update_many(rng.normal(size=(1_000, 3)))
    early = forest.state_bytes()
    forest.update_many(rng.normal(size=(20_000, 3)) * 100)
    assert forest.state_bytes() <= early + 64  # only the counters' pickled width may grow
    assert forest._window.shape == (128, 3)


def test_explain_credits_the_feature_that_was_moved():
    rng = np.random.default_rng(10)
    forest = IsolationForest(seed=1, extension_level=None)
    forest.update_many(_correlated(rng, 600, 4))
    score, share = forest.explain_one(np.array([0.5, 0.5, 3.5, 0.5]))
    assert score > 0.6
    assert int(np.argmax(share)) == 2 and math.isclose(share.sum(), 1.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_trees": 0}, "n_trees >= 1"),
        ({"window_size": 64, "sample_size": 128}, "sample_size <= window_size"),
        ({"warmup": 1}, "warmup >= 2"),
        ({"extension_level": -1}, "extension_level >= 0"),
    ],
)
def test_bad_settings_are_refused_with_a_message(settings, message):
    with pytest.raises(IsolationError, match=message):
        IsolationForest(**settings)


def test_a_point_of_the_wrong_width_is_refused():
    forest = IsolationForest(**SMALL)
    forest.learn_one(np.zeros(3))
    with pytest.raises(IsolationError, match="expected 3 features, got 2"):
        forest.score_one(np.zeros(2))


def test_input_is_not_mutated():
    rows = np.random.default_rng(11).normal(size=(200, 2))
    before = rows.copy()
    IsolationForest(**SMALL).update_many(rows)
    np.testing.assert_array_equal(rows, before)


# --------------------------------------------------------------------------- the detector


def _series(n=800, seed=0):
    rng = np.random.default_rng(seed)
    return 50.0 + 5.0 * np.sin(np.arange(n) / 20) + rng.normal(0, 0.5, n)


def _spike(values):
    values = values.copy()
    values[600] += 15.0
    return values, 600


def _dip(values):
    values = values.copy()
    values[650] -= 12.0
    return values, 650


def _jitter(values):
    values = values.copy()
    values[700] += 4.0
    values[701] -= 4.0
    return values, 700


@pytest.mark.parametrize("inject", [_spike, _dip, _jitter], ids=["spike", "dip", "jitter"])
def test_detector_scores_the_injected_anomaly_above_the_rest(inject):
    values, at = inject(_series())
    scores = IsolationWindowDetector(seed=3).update_many(values, np.arange(values.size))
    # The few values after it carry it in their recent-window features: neither side.
    others = np.delete(scores[100:], np.arange(at - 100, at - 100 + 9))
    assert scores[at : at + 2].max() > others.max(), (
        scores[at], np.quantile(others, [0.5, 0.99, 1.0]))


def test_detector_update_many_equals_one_at_a_time_and_skips_nan():
    values = _series(500)
    values[[100, 300]] = np.nan
    batch = IsolationWindowDetector(seed=1).update_many(values, np.arange(values.size))
    det, one = IsolationWindowDetector(seed=1), []
    for ts, value in enumerate(values.tolist()):
        one.append(det.score_one(value, ts))
        det.learn_one(value, ts)
    np.testing.assert_array_equal(batch, np.array(one))
    assert np.isnan(batch[[100, 300]]).all()
    assert (batch[:64] == 0.0).all() and np.isfinite(batch).sum() == 498
    clean = IsolationWindowDetector(seed=1).update_many(np.delete(values, [100, 300]),
                                                        np.arange(498))
    np.testing.assert_array_equal(batch[np.isfinite(batch)], clean)


def test_detector_pickle_round_trip_and_deepcopy_keep_the_future():
    values = _series(600)
    det = IsolationWindowDetector(seed=2)
    det.update_many(values[:300], np.arange(300))
    restored = pickle.loads(pickle.dumps(det))
    twin = copy.deepcopy(det)
    want = det.update_many(values[300:], np.arange(300, 600))
    np.testing.assert_array_equal(restored.update_many(values[300:], np.arange(300, 600)), want)
    np.testing.assert_array_equal(twin.update_many(values[300:], np.arange(300, 600)), want)


def test_detector_state_is_bounded_and_scores_stay_in_unit_interval():
    det = IsolationWindowDetector()
    det.update_many(_series(1_000), np.arange(1_000))
    early = len(pickle.dumps(det))
    wild = np.concatenate([_series(20_000, seed=4), [1e12, -1e12, 0.0]])
    scores = det.update_many(wild, np.arange(wild.size))
    assert ((scores >= 0.0) & (scores <= 1.0)).all()
    assert len(pickle.dumps(det)) <= early + 64


def test_detector_follows_a_level_shift():
    values = np.concatenate([_series(700), _series(700, seed=1) + 100.0])
    scores = IsolationWindowDetector(seed=0).update_many(values, np.arange(values.size))
    assert scores[700] > 0.8  # the jump itself
    before, after = np.median(scores[200:700]), np.median(scores[900:])
    assert after < before + 0.05  # the new level has become normal
