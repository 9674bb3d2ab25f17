"""The per-series shift and onset the scorer attaches to anomaly records (issue 10, mode 7)."""

import math
import pickle

import pytest
from alertflow.operators.anomaly import RobustEWMA
from alertflow.operators.correlation.anomaly_dedup import apply_anomaly, signal_of
from alertflow.operators.scoring import ScoringSettings, SeriesScorer
from alertflow.operators.series_shift import SHIFT_CAP, ShiftTracker
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import NS_PER_S
from hypothesis import given
from hypothesis import strategies as st

STEP = 10 * NS_PER_S


def _calm(tracker: ShiftTracker, n: int = 200, start: int = 0) -> int:
    """Feed ``n`` samples alternating 10 and 11; returns the next sample's index."""
    for i in range(start, start + n):
        assert tracker.update(10.0 + (i % 2), i * STEP) is None or abs(tracker.level - 10.5) < 1
    return start + n


@pytest.mark.parametrize(
    ("after", "shift_at_least", "onset_index"),
    [
        pytest.param([30.0, 30.0, 30.0], 20.0, 0, id="a-step-up-is-shifted-from-its-first-sample"),
        pytest.param([0.0, 0.0], -15.0, 0, id="a-drop-is-shifted-below"),
        pytest.param([10.5, 30.0], 20.0, 1, id="onset-is-the-first-sample-that-moved"),
    ],
)
def test_a_move_is_measured_in_spreads_from_the_calm_level(after, shift_at_least, onset_index):
    t = ShiftTracker()
    i = _calm(t)
    shifts = [t.update(v, (i + k) * STEP) for k, v in enumerate(after)]
    assert abs(shifts[-1]) >= abs(shift_at_least)
    assert math.copysign(1, shifts[-1]) == math.copysign(1, shift_at_least)
    assert t.onset_ns == (i + onset_index) * STEP


def test_the_baseline_is_frozen_during_a_move_then_learnt_again_past_the_horizon():
    t = ShiftTracker(horizon_s=600.0)
    i = _calm(t)
    level = t.level
    for k in range(30):  # 300 s of the new level: still a move against the old one
        t.update(30.0, (i + k) * STEP)
    assert t.level == level
    for k in range(30, 400):  # past the horizon the new level is the series' normal
        t.update(30.0 + (k % 2), (i + k) * STEP)
    assert t.level > 25.0
    assert t.onset_ns is None


def test_a_move_ends_after_calm_samples_and_the_next_one_has_its_own_onset():
    t = ShiftTracker(calm_samples=3)
    i = _calm(t)
    t.update(30.0, i * STEP)
    for k in range(1, 4):
        t.update(10.5, (i + k) * STEP)
    assert t.onset_ns is None
    t.update(30.0, (i + 10) * STEP)
    assert t.onset_ns == (i + 10) * STEP


def test_nothing_is_said_while_the_series_is_new():
    t = ShiftTracker(warmup=10)
    assert all(t.update(float(i), i * STEP) is None for i in range(10))
    assert t.update(100.0, 10 * STEP) is not None


def test_a_constant_series_that_moves_is_capped_not_infinite():
    t = ShiftTracker(warmup=3)
    for i in range(5):
        t.update(1.0, i * STEP)
    assert t.update(2.0, 5 * STEP) == SHIFT_CAP
    assert t.update(1.0, 6 * STEP) == 0.0


@given(st.lists(st.floats(-1e12, 1e12), min_size=1, max_size=300))
def test_any_finite_values_give_a_bounded_finite_shift(values):
    t = ShiftTracker(warmup=3)
    for i, v in enumerate(values):
        z = t.update(v, i * STEP)
        assert z is None or (math.isfinite(z) and abs(z) <= SHIFT_CAP)
    assert len(pickle.dumps(t)) < 600  # a few numbers per series, whatever it saw


class _Reference:
    """The step in plain Python, as first written: the kernel must agree with it exactly."""

    def __init__(self, horizon_s=3600.0, enter=3.0, calm_samples=3, warmup=10):
        self.horizon_ns, self.enter = horizon_s * 1e9, enter
        self.calm_samples, self.warmup = calm_samples, warmup
        self.level = self.dev = 0.0
        self.n, self.last_ns, self.onset_ns, self.calm = 0, None, None, 0

    def update(self, value, ts_ns):
        if self.n < self.warmup:
            self._learn(value, ts_ns, 1.0 / (self.n + 1))
            return None
        scale, moved = 1.2533 * self.dev, value - self.level
        if scale > 0.0:
            z = max(-SHIFT_CAP, min(SHIFT_CAP, moved / scale))
        else:
            z = 0.0 if moved == 0.0 else math.copysign(SHIFT_CAP, moved)
        if abs(z) >= self.enter:
            if self.onset_ns is None:
                self.onset_ns = ts_ns
            self.calm = 0
            if ts_ns - self.onset_ns > self.horizon_ns:
                self._learn(value, ts_ns, self._alpha(ts_ns))
            return z
        if self.onset_ns is not None:
            self.calm += 1
            if self.calm >= self.calm_samples:
                self.onset_ns = None
        self._learn(value, ts_ns, self._alpha(ts_ns))
        return z

    def _alpha(self, ts_ns):
        if self.last_ns is None or ts_ns <= self.last_ns:
            return 0.0
        return 1.0 - math.exp(-(ts_ns - self.last_ns) / self.horizon_ns)

    def _learn(self, value, ts_ns, alpha):
        self.n += 1
        if self.last_ns is None or ts_ns > self.last_ns:
            self.last_ns = ts_ns
        if alpha > 0.0:
            if self.n > 1:
                self.dev += alpha * (abs(value - self.level) - self.dev)
            self.level += alpha * (value - self.level)


@given(
    st.lists(
        st.tuples(st.floats(-1e6, 1e6), st.integers(-2, 60)), min_size=1, max_size=200
    )
)
def test_the_kernel_agrees_with_the_python_reference(steps):
    kernel, ref = ShiftTracker(warmup=4, horizon_s=300.0), _Reference(warmup=4, horizon_s=300.0)
    ts = 0
    for value, step_s in steps:  # steps back in time too: the scorer passes late samples on
        ts += step_s * NS_PER_S
        got, want = kernel.update(value, ts), ref.update(value, ts)
        assert got == want or got == pytest.approx(want, rel=1e-12)
        assert kernel.onset_ns == ref.onset_ns


def test_without_track_shift_the_scorer_attaches_neither():
    scorer = SeriesScorer("lat", ScoringSettings(), lambda: RobustEWMA(warmup=20))
    decisions = []
    for i in range(300):
        value = 10.0 + (i % 2) if i < 280 else 40.0
        decisions += scorer.process(MetricSample("lat", {"service": "db"}, i * STEP, value))
    anomalies = [signal_of(d) for d in decisions if d.stream == "anomalies"]
    assert anomalies and all(a.shift is None and a.onset_ns is None for a in anomalies)


def test_the_scorer_attaches_shift_and_onset_and_correlation_keeps_the_largest():
    settings = ScoringSettings(track_shift=True)
    scorer = SeriesScorer("lat", settings, lambda: RobustEWMA(warmup=20))
    decisions = []
    for i in range(300):
        value = 10.0 + (i % 2) if i < 280 else 40.0
        decisions += scorer.process(MetricSample("lat", {"service": "db"}, i * STEP, value))
    anomalies = [d for d in decisions if d.stream == "anomalies"]
    assert anomalies
    first = signal_of(anomalies[0])
    assert first.shift is not None and first.shift > 20
    assert first.onset_ns == 280 * STEP
    member = None
    for d in anomalies:
        member, _ = apply_anomaly(member, signal_of(d))
    assert member is not None
    assert member.onset_ns == 280 * STEP
    assert member.shift == max(abs(signal_of(d).shift) for d in anomalies)
