"""A shard scoring its series' samples in one kernel call decides exactly as one sample at a time."""

import copy
import pickle
import random

import numpy as np
from alertflow.operators.anomaly import RobustEWMA, StreamingEnsemble
from alertflow.operators.anomaly.stacked import StackedStates
from alertflow.operators.scoring import ScoringSettings, SeriesScorer, ShardScorer
from alertflow.schemas.records import MetricSample
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9
WARMUP = 8


def _ensemble() -> StreamingEnsemble:
    return StreamingEnsemble(warmup=WARMUP)


def _shard(make=_ensemble, **options) -> ShardScorer:
    return ShardScorer(ScoringSettings(**options), make, idle_ns=10 * S)


def _reference(shard: ShardScorer, items, wall_ns: int) -> list:
    """The same decisions one sample at a time, through each series' own scorer."""
    out = []
    for key, sample in items:
        scorer = shard.scorers.get(key)
        if scorer is None:
            scorer = shard.scorers[key] = SeriesScorer(key, shard.settings, shard.make_detector)
        shard.last_seen_ns[key] = wall_ns
        out.extend(scorer.process(sample))
    return out


def _view(decisions: list) -> list:
    return [(getattr(d, "stream", "late"), getattr(d, "record", d)) for d in decisions]


# A poll: samples of up to 5 series; a series' time steps forward, sometimes back (late or
# within the lateness bound), repeats itself or jumps in value; NaN now and then.
_step = st.tuples(
    st.integers(0, 4),  # series
    st.sampled_from([10, 10, 10, 10, 0, -5, -400, 20]),  # seconds since the series' last
    st.one_of(st.floats(0, 5), st.just(200.0), st.just(float("nan"))),
)
_polls = st.lists(st.lists(_step, min_size=1, max_size=12), min_size=1, max_size=40)


def _items(polls: list, clock: dict) -> list[list]:
    out = []
    for poll in polls:
        items = []
        for series, step, value in poll:
            clock[series] = clock.get(series, 1_000) + step
            key = f"m{{s=\"{series}\"}}"
            sample = MetricSample("m", {"s": str(series)}, clock[series] * S, value,
                                  f"t:0:{len(items)}")
            items.append((key, sample))
        out.append(items)
    return out


@settings(max_examples=60, deadline=None)
@given(_polls, st.booleans(), st.integers(0, 39), st.integers(0, 39))
def test_batched_equals_one_at_a_time(polls, emit_scores, restore_at, evict_at):
    items = _items(polls, {})
    batched, reference = _shard(emit_scores=emit_scores), _shard(emit_scores=emit_scores)
    for i, poll in enumerate(items):
        if i == restore_at:  # a snapshot restored mid-stream: the rows are rebuilt
            batched = pickle.loads(pickle.dumps(batched))
        if i == evict_at:  # every series idle: dropped, later ones start afresh
            assert batched.evict_idle(100 * S) == reference.evict_idle(100 * S)
        assert _view(batched.process(poll, i)) == _view(_reference(reference, poll, i))


def test_a_spike_fires_with_the_same_contributors_batched():
    noise = random.Random(0)
    rounds = [[(f"k{s}", MetricSample("m", {}, (1000 + r * 60) * S,
                                      10.0 + s + noise.gauss(0, 1) + (50.0 if r == 120 else 0.0)))
               for s in range(30)] for r in range(121)]
    batched, reference = _shard(threshold=0.3), _shard(threshold=0.3)
    out_b = [d for poll in rounds for d in batched.process(poll, 0)]
    out_r = [d for poll in rounds for d in _reference(reference, poll, 0)]
    spikes = [d.record for d in out_b if d.stream == "anomalies" and d.record.value > 50]
    assert len(spikes) >= 10 and all(a.detectors for a in spikes)  # named, as one at a time
    assert _view(out_b) == _view(out_r)


def test_rows_grow_and_detectors_keep_their_own_state():
    shard = _shard(emit_scores=True)
    poll = [(f"k{s}", MetricSample("m", {}, 1000 * S, float(s))) for s in range(20)]
    shard.process(poll, 0)  # 20 series: the 8 initial rows doubled twice
    stack = shard._stack
    assert stack is not None and stack.states.shape[0] == 32
    for key, scorer in shard.scorers.items():
        row = shard._rows[key]
        assert scorer.detector.state.base is stack.states  # a view of its row
        assert scorer.detector.n == 1 and stack.states[row, 0] == 1.0
    # A deep copy (the recovery snapshot) holds each series' own state, not the rows.
    snap = copy.deepcopy(shard)
    assert not hasattr(snap, "_stack") or snap._stack is None
    assert all(s.detector.state.base is None for s in snap.scorers.values())
    assert np.array_equal(snap.scorers["k3"].detector.state, shard.scorers["k3"].detector.state,
                          equal_nan=True)


def test_released_row_leaves_the_detector_a_copy():
    shard = _shard()
    shard.process([("a", MetricSample("m", {}, 1000 * S, 1.0))], wall_ns=0)
    detector = shard.scorers["a"].detector
    row = shard._rows["a"]
    assert shard._stack is not None
    shard._stack.release(row)
    shard._stack.states[row] = 7.0  # the row goes to another series
    assert detector.n == 1


def test_detectors_without_a_rows_kernel_are_scored_one_at_a_time():
    shard = _shard(make=lambda: RobustEWMA(warmup=5), emit_scores=True)
    poll = [(f"k{s}", MetricSample("m", {}, (1000 + i) * S, 1.0)) for i in range(3)
            for s in range(4)]
    assert len(shard.process(poll, 0)) == 12
    assert shard._stack is None and set(shard._rows.values()) == {-1}
    assert not StackedStates.can_stack(RobustEWMA())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))),
                         min_size=1, max_size=2), min_size=1, max_size=30))
def test_few_samples_take_single_calls_with_the_rows_kernel_bits(batches):
    # One or two samples go through one single-sample call each; the rows kernel, forced
    # here with _FEW = 0, must leave the same states and report the same bits.
    import alertflow.operators.anomaly.stacked as stacked

    few, rows = StackedStates(_ensemble()), StackedStates(_ensemble())
    for stack in (few, rows):
        for _ in range(2):
            stack.adopt(_ensemble())
    for i, values in enumerate(batches):
        at, ts = [0, 1][: len(values)], [(1000 + 10 * i) * S] * len(values)
        got = few.update(at, values, ts)
        saved, stacked._FEW = stacked._FEW, 0
        try:
            want = rows.update(at, values, ts)
        finally:
            stacked._FEW = saved
        assert np.array_equal(np.array(got), np.array(want), equal_nan=True)
        assert np.array_equal(few.states, rows.states, equal_nan=True)
