"""Per-entity alignment into event-time windows, and multivariate scoring of each window."""

import math
import pickle

import numpy as np
import pytest
from alertflow.operators.isolation.errors import IsolationError
from alertflow.operators.multivariate import EntityAligner, EntityScorer, entity_of

S = 1_000_000_000  # one second in ns
MIN = 60 * S


def _ends(vectors):
    return [v.window_end_ns // S for v in vectors]


# --------------------------------------------------------------------------- the aligner

# (name, lateness_s, samples as (metric, value, ts_s), window ends closed after each sample)
CLOSING_CASES = [
    ("closes when event time passes the end", 0,
     [("a", 1, 10), ("a", 2, 59), ("a", 3, 60), ("a", 4, 185)], [[], [], [60], [120]]),
    ("waits for lateness", 30,
     [("a", 1, 10), ("a", 2, 70), ("a", 3, 89), ("a", 4, 90)], [[], [], [], [60]]),
    ("out of order within lateness joins its window", 30,
     [("a", 1, 10), ("a", 2, 75), ("a", 3, 55), ("a", 4, 150)], [[], [], [], [60, 120]]),
    ("empty windows are skipped", 0,
     [("a", 1, 10), ("a", 2, 400)], [[], [60]]),
    ("an old timestamp does not move time back", 0,
     [("a", 1, 70), ("a", 2, 130), ("a", 3, 65)], [[], [120], []]),
]


@pytest.mark.parametrize(("name", "lateness", "samples", "closed"), CLOSING_CASES,
                         ids=[c[0] for c in CLOSING_CASES])
def test_windows_close_in_event_time_with_lateness(name, lateness, samples, closed):
    aligner = EntityAligner("service=api", window_s=60, lateness_s=lateness)
    got = [_ends(aligner.add(m, v, ts * S)) for m, v, ts in samples]
    assert got == closed


def test_a_sample_for_a_closed_window_is_late_and_dropped():
    aligner = EntityAligner("e", window_s=60, lateness_s=10)
    aligner.add("a", 1.0, 5 * S)
    assert _ends(aligner.add("a", 2.0, 75 * S)) == [60]
    assert aligner.add("a", 99.0, 30 * S) == []  # its window has closed
    assert aligner.late == 1
    (last,) = aligner.flush()
    assert last.values.tolist() == [2.0]


@pytest.mark.parametrize(("agg", "expected"), [("last", [3.0, 10.0]), ("mean", [2.0, 15.0])])
def test_window_value_per_metric_is_last_or_mean(agg, expected):
    aligner = EntityAligner("e", window_s=60, agg=agg)
    for metric, value, ts in [("a", 1.0, 1), ("b", 20.0, 2), ("a", 3.0, 30), ("a", 2.0, 20),
                              ("b", 10.0, 40)]:
        aligner.add(metric, value, ts * S)
    (window,) = aligner.flush()
    assert window.metrics == ("a", "b")
    assert window.values.tolist() == expected  # "last" is by timestamp, not by arrival


def test_missing_metric_carries_its_last_value_and_is_marked_unobserved():
    aligner = EntityAligner("e", window_s=60)
    out = []
    for metric, value, ts in [("a", 1.0, 1), ("b", 5.0, 2), ("a", 2.0, 61), ("c", 7.0, 62),
                              ("a", 3.0, 121)]:
        out += aligner.add(metric, value, ts * S)
    out += aligner.flush()
    assert [w.values.tolist() for w in out][:2] == [[1.0, 5.0], [2.0, 5.0, 7.0]]
    assert out[1].observed.tolist() == [True, False, True]
    assert out[2].values.tolist() == [3.0, 5.0, 7.0]


def test_metric_order_is_fixed_and_capped():
    aligner = EntityAligner("e", window_s=60, max_metrics=2)
    for metric, ts in [("b", 1), ("a", 2), ("c", 3), ("b", 4)]:
        aligner.add(metric, 1.0, ts * S)
    assert aligner.metrics == ["b", "a"] and aligner.dropped_metrics == 1


def test_non_finite_values_are_counted_and_still_move_event_time():
    aligner = EntityAligner("e", window_s=60)
    aligner.add("a", 1.0, 1 * S)
    assert _ends(aligner.add("a", math.nan, 61 * S)) == [60]
    assert aligner.non_finite == 1 and aligner.flush() == []


def test_flush_closes_every_open_window_in_order_once():
    aligner = EntityAligner("e", window_s=60, lateness_s=600)
    for ts in (10, 70, 130, 190):
        assert aligner.add("a", float(ts), ts * S) == []
    assert _ends(aligner.flush()) == [60, 120, 180, 240]
    assert aligner.flush() == []


def test_open_windows_are_capped_so_state_stays_bounded():
    aligner = EntityAligner("e", window_s=1, lateness_s=1_000, max_open_windows=4)
    closed = []
    for ts in range(100):
        closed += aligner.add("a", 1.0, ts * S)
    assert len(aligner._open) == 4 and _ends(closed) == list(range(1, 97))


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"agg": "median"}, "agg in"), ({"window_s": 0}, "window_s > 0"),
     ({"lateness_s": -1}, "lateness_s >= 0"), ({"max_metrics": 0}, "max_metrics >= 1")],
)
def test_bad_aligner_settings_are_refused(settings, message):
    with pytest.raises(IsolationError, match=message):
        EntityAligner("e", **settings)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [({"service": "api", "instance": "a:1"}, "service=api"),
     ({"instance": "a:1"}, "instance=a:1"),
     ({"service": "", "instance": "a:1"}, "instance=a:1"),
     ({"job": "node"}, None)],
)
def test_entity_of_labels(labels, expected):
    assert entity_of(labels) == expected


# --------------------------------------------------------------------------- the scorer


def _feed(scorer, rows, metrics, start=0, rng=None):
    """One window per row: every metric sampled twice, jittered inside the window."""
    rng = rng or np.random.default_rng(0)
    out = []
    for w, row in enumerate(rows, start=start):
        for half in (0, 30):
            for name, value in zip(metrics, row, strict=True):
                ts = w * MIN + (half + int(rng.integers(0, 30))) * S
                out += scorer.add(name, float(value), ts)
    return out


def _coupled(rng, n, extra, quiet=0):
    """``a`` and ``b`` always move together with the load, and so do ``extra`` more metrics;
    ``quiet`` independent metrics beside them."""
    load = rng.uniform(0, 10, n)
    pair = np.stack([100 * load + rng.normal(0, 5, n), 3 * load + rng.normal(0, 0.15, n)], 1)
    more = 20 + 2 * load[:, None] + rng.normal(0, 0.5, (n, extra))
    return np.hstack([pair, more, rng.normal(50, 5, (n, quiet))])


# (name, extra metrics following the load, quiet metrics, the pair's violating values, seed)
PAIR_CASES = [
    ("a high, b low", 0, 0, (850.0, 4.5), 1),
    ("a low, b high", 0, 0, (200.0, 24.0), 2),
    ("a high, b low, two more metrics following the load", 2, 0, (800.0, 6.0), 3),
    ("a low, b high, four more metrics following the load", 4, 0, (250.0, 22.0), 4),
    ("a high, b low, one unrelated metric beside", 0, 1, (800.0, 6.0), 5),
]


@pytest.mark.parametrize(("name", "extra", "quiet", "violation", "seed"), PAIR_CASES,
                         ids=[c[0] for c in PAIR_CASES])
def test_correlated_pair_moving_apart_is_caught_though_no_single_metric_is(
    name, extra, quiet, violation, seed
):
    rng = np.random.default_rng(seed)
    metrics = ["a", "b"] + [f"more{i}" for i in range(extra)] + [f"quiet{i}" for i in range(quiet)]
    scorer = EntityScorer("service=api", window_s=60, lateness_s=30, seed=seed)
    rows = _coupled(rng, 400, extra, quiet)
    normal = _feed(scorer, rows, metrics, rng=rng)
    odd_row = np.array([*violation, *rows[-1, 2:]])
    verdict = (_feed(scorer, [odd_row], metrics, start=400, rng=rng) + scorer.flush())[-1]
    inliers = [o.score for o in normal[100:]]
    assert verdict.score > max(inliers) + 0.05, (verdict.score, np.quantile(inliers, [0.5, 1]))
    assert max(verdict.z.values()) < 3.0  # per metric, nothing unusual: |robust z| < 3
    assert max(max(o.z.values()) for o in normal[100:]) > max(verdict.z.values())
    assert verdict.top_metrics(1)[0] in {"a", "b"}


def test_scores_are_zero_while_warming_up_then_in_the_unit_interval():
    rng = np.random.default_rng(5)
    scorer = EntityScorer("e", window_s=60, warmup=16)
    out = _feed(scorer, _coupled(rng, 100, 1), ["a", "b", "c"], rng=rng) + scorer.flush()
    scores = np.array([o.score for o in out])
    # Scaler, whitener and forest warm up on 16 windows each, one after the other.
    assert len(out) == 100 and (scores[:48] == 0.0).all()
    assert ((scores[48:] > 0.0) & (scores[48:] <= 1.0)).all()
    assert all(o.observed == ("a", "b", "c") for o in out)


def test_same_seed_same_scores_and_pickle_round_trip_keeps_the_future():
    rng = np.random.default_rng(6)
    rows = _coupled(rng, 300, 2)
    metrics = ["a", "b", "c", "d"]
    first, twin = EntityScorer("e", seed=3), EntityScorer("e", seed=3)
    _feed(first, rows[:200], metrics)
    _feed(twin, rows[:200], metrics)
    restored = pickle.loads(pickle.dumps(first))
    futures = [_feed(s, rows[200:], metrics, start=200) + s.flush()
               for s in (first, twin, restored)]
    assert futures[0] == futures[1] == futures[2]
    assert len(futures[0]) == 101  # window 199 closes on the first sample of window 200


def test_scorer_state_stays_bounded_on_a_long_stream():
    rng = np.random.default_rng(7)
    scorer = EntityScorer("e", window_s=60, n_trees=8, window_size=64, sample_size=32,
                          warmup=16)
    metrics = ["a", "b", "c"]
    _feed(scorer, _coupled(rng, 300, 1), metrics, rng=rng)
    early = len(pickle.dumps(scorer))
    _feed(scorer, _coupled(rng, 1_500, 1) * 1_000, metrics, start=300, rng=rng)
    assert len(pickle.dumps(scorer)) <= early + 64


def test_a_metric_appearing_late_joins_without_breaking_the_forest():
    rng = np.random.default_rng(8)
    scorer = EntityScorer("e", window_s=60, warmup=16)
    rows = _coupled(rng, 200, 1)
    out = _feed(scorer, rows[:100, :2], ["a", "b"], rng=rng)
    out += _feed(scorer, rows[100:], ["a", "b", "late"], start=100, rng=rng) + scorer.flush()
    assert out[-1].z.keys() == {"a", "b", "late"}
    assert all(0.0 <= o.score <= 1.0 for o in out)
