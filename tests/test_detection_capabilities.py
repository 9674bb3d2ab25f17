"""What the ensemble's cadence, resolution and time-based settings are for, one case each."""

import math

import numpy as np
import pytest
from alertflow.operators.anomaly.cadence import CLOCK_SIZE, INTERVAL, clock_init, samples_in
from alertflow.operators.anomaly.ensemble import StreamingEnsemble
from alertflow.operators.anomaly.resolution import (
    resolution_floor,
    resolution_init,
    resolution_learn,
)
from alertflow.schemas.config import ScoringConfig
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = 1_500_000_000
THRESHOLD = ScoringConfig().threshold


def _clock(stamps, span_s=3000.0, most=10):
    clock = np.zeros(CLOCK_SIZE)
    clock_init(clock, float(stamps[0]))
    return clock, [samples_in(clock, float(t), span_s, most) for t in stamps[1:]]


@pytest.mark.parametrize(("step_s", "span_s", "expected"), [
    (60, 3000, 10),     # per-minute: 50 samples wanted, the ring holds 10
    (300, 3000, 10),    # 5-minute: exactly the ring, as the defaults were tuned
    (1800, 3000, 2),    # 30-minute
    (3600, 3000, 1),    # hourly: each sample judged on its own
    (3600, 0, 10),      # span off: always the ring
])
def test_a_time_span_becomes_a_count_of_samples_by_the_series_cadence(step_s, span_s, expected):
    _, counts = _clock([T0 + i * step_s for i in range(50)], span_s)
    assert counts[-1] == expected


def test_a_gap_in_the_sampling_does_not_change_the_cadence():
    stamps = [T0 + 60 * i for i in range(100)] + [T0 + 6000 + 2 * 86400 + 60 * i for i in range(5)]
    clock, _ = _clock(stamps)
    assert 60 <= clock[INTERVAL] < 100  # a 2-day gap nudges it, no more


def test_timestamps_that_do_not_advance_use_the_whole_ring():
    _, counts = _clock([T0] * 20)
    assert set(counts) == {10}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=2, max_size=60),
       st.floats(0, 1e5, allow_nan=False), st.integers(1, 1000))
def test_any_timestamps_give_between_one_and_most_samples(stamps, span_s, most):
    _, counts = _clock(stamps, span_s, most)
    assert all(1 <= c <= most for c in counts)


@pytest.mark.parametrize(("values", "step"), [
    ([0, 0, 3, 5, 120], 1.0),              # counts
    ([0.134, 0.2, 1.5], 0.001),            # three decimals
    ([0.1 + 0.2, 1.0], 0.1),               # float noise of a one-decimal value is not a decimal
    ([1200, 3400, 100], 100.0),            # so far only whole hundreds
    ([-2.5, 3], 0.1),
    ([math.pi, 1.0], 0.0),                 # a measurement: no short decimal form, no floor
])
def test_the_resolution_is_the_decimal_step_of_every_value_so_far(values, step):
    res = np.zeros(1)
    resolution_init(res, float(values[0]))
    for value in values[1:]:
        resolution_learn(res, float(value))
    assert resolution_floor(res, 1.0) == pytest.approx(step, rel=1e-12)


def test_a_series_of_zeros_has_no_resolution_floor_yet():
    res = np.zeros(1)
    resolution_init(res, 0.0)
    resolution_learn(res, 0.0)
    assert resolution_floor(res, 1.0) == 0.0


def _scores(values, step_s, **settings_):
    stamps = (T0 + step_s * np.arange(len(values))) * 10**9
    return StreamingEnsemble(**settings_).update_many(np.asarray(values, float), stamps)


def _alarms(values, step_s, **settings_):
    return int((_scores(values, step_s, **settings_) >= THRESHOLD).sum())


def test_rarity_per_hour_keeps_a_per_minute_series_as_quiet_as_an_hourly_one():
    noise = np.random.default_rng(3).normal(100.0, 5.0, 20_000)
    per_minute = _alarms(noise, 60)
    per_sample = _alarms(noise, 60, rarity_period_s=0.0)
    hourly = _alarms(noise, 3600)
    days_per_minute, days_hourly = len(noise) / 1440, len(noise) / 24
    assert per_minute < per_sample / 3
    # Alarms per day of pure noise: the per-minute series no longer dwarfs the hourly one.
    assert per_minute / days_per_minute <= 10 * max(hourly / days_hourly, 0.1)


def test_one_purchase_after_hours_of_none_is_weak_evidence_and_a_rush_is_strong():
    rng = np.random.default_rng(7)
    counts = (rng.random(2000) < 0.03).astype(float)  # mostly 0, now and then one
    rush = counts.copy()
    rush[1500:1504] = [25, 31, 40, 28]
    floored, unfloored = _scores(counts, 3600).max(), _scores(counts, 3600, grain_frac=0.0).max()
    # A scale below one unit made a single purchase look like a 1-in-10^7 event.
    assert floored < unfloored - 0.1
    assert _scores(rush, 3600)[1500:1504].max() > max(floored, 2 * THRESHOLD)


def test_an_hour_long_spike_on_an_hourly_series_is_judged_on_its_own():
    rng = np.random.default_rng(11)
    values = 50 + 10 * np.sin(np.arange(800) * 2 * np.pi / 24) + rng.normal(0, 1, 800)
    values[100] = 200.0  # an early, bigger spike: the later one is inside the range
    values[700] = values[699] + 25.0
    det = StreamingEnsemble()
    scores = det.update_many(values, (T0 + 3600 * np.arange(800)) * 10**9)
    assert scores[700] >= THRESHOLD
    # Without either time span (the short scale would judge the hour on its own too), the
    # likelihood averages ten hourly samples and the spike is diluted.
    averaged = StreamingEnsemble(lik_span_s=0.0, lik_short_s=0.0).update_many(
        values, (T0 + 3600 * np.arange(800)) * 10**9)
    assert averaged[700] < scores[700]
    short_only = StreamingEnsemble(lik_span_s=0.0).update_many(
        values, (T0 + 3600 * np.arange(800)) * 10**9)
    assert short_only[700] > averaged[700]


def test_a_range_detection_reports_the_range_it_broke_and_the_value_lies_outside_it():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.uniform(10, 20, 400), [26.0]])
    det = StreamingEnsemble()
    det.update_many(values[:-1], (T0 + 300 * np.arange(400)) * 10**9)
    score = det.update(26.0, (T0 + 300 * 400) * 10**9)
    band = det.expectation()
    assert score >= THRESHOLD and "range" in det.contributors()
    assert not band.lower <= 26.0 <= band.upper
    assert band.upper < 26.0 <= 20.0 + 0.1 * 10 + 6


@pytest.mark.parametrize("values", [
    [0, 0, 1, 0, 2, 0, 0, 1] * 40 + [9],                     # counts
    [*np.random.default_rng(1).uniform(0, 0.01, 320), 0.2],  # an error ratio
])
def test_the_band_of_a_series_that_never_went_negative_stays_at_or_above_zero(values):
    det = StreamingEnsemble()
    stamps = (T0 + 60 * np.arange(len(values))) * 10**9
    for value, ts in zip(values, stamps, strict=True):
        det.update(float(value), int(ts))
        band = det.expectation()
        assert band is None or band.lower >= 0.0
    assert det.never_negative()
    det.update(-1.0, int(stamps[-1]) + 60 * 10**9)
    assert not det.never_negative()


def test_a_warm_up_band_of_a_count_does_not_go_below_zero():
    from alertflow.operators.scoring import ScoringSettings, SeriesScorer
    from alertflow.schemas.records import MetricSample

    scorer = SeriesScorer("requests", ScoringSettings(threshold=THRESHOLD),
                          lambda: StreamingEnsemble())
    out = []
    for i, value in enumerate([1, 2, 1, 1, 2, 1, 2, 1, 1, 2, 9]):
        out += scorer.process(MetricSample("requests", {}, (T0 + 60 * i) * 10**9, float(value)))
    assert out, "the 9 after ones and twos is a warm-up anomaly"
    assert all(d.record.lower >= 0.0 and d.record.detectors == ["cold_start"] for d in out)
