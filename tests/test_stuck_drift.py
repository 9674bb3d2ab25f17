"""The stuck-value and drift channels (issue 9 item 3): kernels against references, on and off."""

import math
import pickle

import numpy as np
import pytest
from alertflow.operators.anomaly.compiled import DetectorError
from alertflow.operators.anomaly.drift import DRIFT_SIZE, drift_init, drift_learn
from alertflow.operators.anomaly.ensemble import StreamingEnsemble
from alertflow.operators.anomaly.stuck import (
    HALF_LIFE_S,
    STUCK_SIZE,
    stuck_init,
    stuck_learn,
)
from alertflow.schemas.config import DetectorSettings
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.capabilities import KINDS, T0, measure, run_kind

MINUTE = 60


def _stuck_reference(values, stamps, interval):
    """The stuck channel in plain Python: (run so far / usual longest run), as evidence."""
    value, run_t0, usual, last_t = values[0], stamps[0], 0.0, stamps[0]
    out = []
    for x, t in zip(values[1:], stamps[1:], strict=True):
        gap = t - last_t
        if gap > 0:
            usual *= 0.5 ** (gap / HALF_LIFE_S)
            last_t = t
        if gap > 10 * interval or x != value:
            if x != value and gap <= 10 * interval:
                usual = max(usual, t - run_t0)
            value, run_t0 = x, t
            out.append(0.0)
            continue
        if usual <= 0 or x == 0:  # never changed, or quiet at 0: never stuck
            out.append(0.0)
            continue
        run, floor = t - run_t0, max(usual, 2 * interval)
        out.append(3.0 * math.log2(run / floor) if run > floor else 0.0)
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=2, max_size=300),
       st.lists(st.sampled_from([30.0, 60.0, 61.0, 900.0]), min_size=300, max_size=300))
def test_the_stuck_kernel_matches_a_plain_reference(values, steps):
    stamps = list(T0 + np.cumsum([0.0, *steps[: len(values) - 1]]))
    st_ = np.zeros(STUCK_SIZE)
    stuck_init(st_, values[0], stamps[0])
    got = [stuck_learn(st_, x, t, 60.0) for x, t in zip(values[1:], stamps[1:], strict=True)]
    assert got == pytest.approx(_stuck_reference(values, stamps, 60.0), abs=1e-9)


def _run(values, step_s, **kw):
    det = StreamingEnsemble(**kw)
    stamps = ((T0 + step_s * np.arange(len(values))) * 10**9).astype(np.int64)
    return det, det.update_many(np.asarray(values, dtype=float), stamps)


def test_a_gauge_that_sticks_pages_within_minutes_with_the_stuck_channel():
    rng = np.random.default_rng(0)
    values = 100 + 3 * rng.standard_normal(6 * 24 * 60)
    values[-300:] = values[-301]  # the exporter died: its last value, five hours long
    _, off = _run(values, MINUTE)
    _, on = _run(values, MINUTE, stuck_weight=1.0)
    first = np.flatnonzero(on[-300:] >= 0.21)
    assert first.size and first[0] <= 15
    assert (off[-300:-285] < 0.21).all()
    assert (on[:-300] == off[:-300]).all()  # before it sticks, nothing changes


def test_a_constant_series_and_counts_at_zero_are_never_stuck():
    rng = np.random.default_rng(5)
    _, constant = _run(np.full(3000, 7.0), MINUTE, stuck_weight=1.0)
    quiet = np.concatenate([rng.poisson(3, 2000), np.zeros(2000)]).astype(float)
    _, zeros = _run(quiet, MINUTE, stuck_weight=1.0)
    _, zeros_off = _run(quiet, MINUTE)
    assert (constant == 0).all()
    assert (zeros == zeros_off).all()


def test_counts_at_zero_every_night_are_their_own_usual_run():
    hours = np.arange(8 * 24 * 12) / 12  # 5-minute samples over 8 days
    rng = np.random.default_rng(1)
    busy = (hours % 24 >= 8) & (hours % 24 < 20)
    values = np.where(busy, rng.poisson(20, hours.size), 0).astype(float)
    _, on = _run(values, 300, stuck_weight=1.0)
    assert (on[len(values) // 2:] < 0.21).all()


def test_a_gap_in_the_sampling_is_no_repeat():
    st_ = np.zeros(STUCK_SIZE)
    stuck_init(st_, 5.0, 0.0)
    for k in range(1, 50):
        stuck_learn(st_, float(k % 2), 60.0 * k, 60.0)  # alternating: usual run 60 s
    assert stuck_learn(st_, 1.0, 60.0 * 49 + 86400.0, 60.0) == 0.0  # a day-long gap
    assert stuck_learn(st_, 1.0, 60.0 * 50 + 86400.0, 60.0) == 0.0  # one repeat after it


def test_the_drift_channel_sees_a_week_long_climb_and_not_a_daily_cycle():
    step = 300.0
    t = T0 + step * np.arange(14 * 288)
    rng = np.random.default_rng(2)
    cycle = 50 + 10 * np.sin(2 * np.pi * (t - T0) / 86400) + rng.normal(0, 1.5, t.size)
    climb = cycle + np.clip((t - (T0 + 9 * 86400)) / 86400, 0, None) * 8.0
    out = {}
    for name, values in (("cycle", cycle), ("climb", climb)):
        dr = np.zeros(DRIFT_SIZE)
        drift_init(dr, values[0], t[0])
        out[name] = np.array([drift_learn(dr, x, ts, n, step, 0.1) for n, (x, ts) in
                              enumerate(zip(values[1:], t[1:], strict=True), start=2)])
    assert out["cycle"].max() < 3.0  # a daily cycle is not a drift
    assert out["climb"][-288:].max() > 6.0  # two days into the climb: 1-in-a-million


@pytest.mark.parametrize("name", ["stuck_weight", "drift_weight"])
def test_off_by_default_with_the_layout_unchanged_and_nonsense_refused(name):
    assert getattr(DetectorSettings(), name) == 0.0
    base = StreamingEnsemble()
    base.learn_one(1.0, T0 * 10**9)
    on = StreamingEnsemble(**{name: 1.0})
    extra = {"stuck_weight": STUCK_SIZE, "drift_weight": DRIFT_SIZE}[name]
    assert on.state.size == base.state.size + extra
    with pytest.raises(DetectorError, match=name):
        StreamingEnsemble(**{name: -1.0})
    with pytest.raises(ValueError, match=name):
        DetectorSettings(**{name: -1.0})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.sampled_from([0.0, 1.0, 3.0])), min_size=1, max_size=400),
       st.sampled_from([1, 60, 300, 3600]))
def test_both_channels_on_any_input_stay_finite_in_range_and_fixed_size(values, step_s):
    det, scores = _run(values, step_s, stuck_weight=1.0, drift_weight=1.0)
    size = det.state.size
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores < 1).all()
    assert det.state.size == size


def test_state_stays_within_two_kilobytes_with_both_channels_on():
    rng = np.random.default_rng(3)
    det, _ = _run(rng.normal(0, 1, 21_600), 60, stuck_weight=1.0, drift_weight=1.0)
    assert len(pickle.dumps(det)) <= 2048


def test_the_capability_bench_counts_a_stuck_gauge_as_found_with_the_channel_on():
    make = lambda: StreamingEnsemble(stuck_weight=1.0)  # noqa: E731
    out = run_kind(make, KINDS["flatline"][1], 2, 0.21)
    assert all(o.detected for o in out)
    assert all(o.delay_s <= 15 * MINUTE for o in out)


def test_measure_counts_onsets_not_rows():
    from bench.capabilities import DAY, Case
    t = T0 + 3600.0 * np.arange(24 * 10)
    case = Case(t, np.zeros(t.size), T0 + 9 * DAY, T0 + 9 * DAY + 3600)
    scores = np.zeros(t.size)
    scores[24 * 8: 24 * 8 + 5] = 0.5  # one five-hour false alarm on day 8
    scores[24 * 9] = 0.5
    out = measure(case, scores, 0.21)
    assert out.detected and out.delay_s == 0.0
    assert out.fa_before == pytest.approx(1 / 2)  # one onset in two days (days 7-8)
