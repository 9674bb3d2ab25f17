"""The ensemble's optional channels (issue 9): one crafted case each, on and off."""

import numpy as np
import pytest
from alertflow.operators.anomaly.ensemble import StreamingEnsemble
from alertflow.operators.anomaly.volatility import VOL_SIZE, volatility_learn
from alertflow.operators.anomaly.weekly import weekday
from alertflow.schemas.config import DetectorSettings

HOUR_S = 3600
MONDAY = 1_529_280_000  # 2018-06-18T00:00:00Z, a Monday


def _scores(values, step_s=HOUR_S, **settings):
    det = StreamingEnsemble(**settings)
    stamps = (MONDAY + step_s * np.arange(len(values))) * 10**9
    return det, det.update_many(np.asarray(values, dtype=float), stamps)


@pytest.mark.parametrize(("day", "expected"), [(0, 0), (1, 1), (5, 5), (6, 6), (7, 0), (-1, 6)])
def test_weekday_counts_from_monday(day, expected):
    assert weekday(float(MONDAY + day * 86400 + 5 * HOUR_S)) == expected


def test_weekday_offsets_learn_a_quiet_weekend_so_it_stops_alarming():
    hours = np.arange(8 * 7 * 24)
    weekend = (hours // 24) % 7 >= 5
    rng = np.random.default_rng(1)
    values = (100.0 + 30.0 * np.sin(2 * np.pi * hours / 24) - 20.0 * weekend
              + rng.normal(0.0, 2.0, hours.size))
    late = hours >= 5 * 7 * 24  # weeks 6 to 8, once the offsets have a history
    _, off = _scores(values)
    _, on = _scores(values, week_days=3.0)
    assert (off[late] >= 0.21).sum() >= 1  # the daily profile alone pages on weekends
    assert (on[late] >= 0.21).sum() == 0
    assert on[late & weekend].mean() < 0.5 * off[late & weekend].mean()


def test_the_variance_channel_sees_an_oscillation_stop_at_the_same_level():
    rng = np.random.default_rng(2)
    vol = np.zeros(VOL_SIZE)
    steady = [volatility_learn(vol, r, 5.0, 1e-3, n, 60.0, 3600.0)
              for n, r in enumerate(rng.normal(0.0, 1.0, 3000), start=1)]
    calm = [volatility_learn(vol, r, 5.0, 1e-3, 3000 + n, 60.0, 3600.0)
            for n, r in enumerate(rng.normal(0.0, 0.1, 120), start=1)]
    assert np.median(steady[1000:]) < 1.0
    assert max(calm) > 3.0  # a 1-in-1000 change of spread within two hours


def test_the_variance_channel_is_off_by_default_and_adds_evidence_when_on():
    rng = np.random.default_rng(3)
    values = 100.0 + np.concatenate([rng.normal(0, 1, 3000), rng.normal(0, 4, 300)])
    _, off = _scores(values, step_s=60)
    _, on = _scores(values, step_s=60, vol_weight=1.0)
    assert DetectorSettings().vol_weight == 0.0
    assert on[3000:3300].max() > off[3000:3300].max()


def _two_incidents(gap_h):
    rng = np.random.default_rng(4)
    values = 50.0 + rng.normal(0.0, 1.0, 1000)
    values[700:703] += 40.0
    values[700 + gap_h : 703 + gap_h] += 40.0
    return values


def test_a_quiet_spell_releases_the_hold_so_a_second_incident_alarms():
    values = _two_incidents(gap_h=24)
    _, held = _scores(values)
    _, released = _scores(values, sup_quiet_s=10800.0)
    threshold = 0.21
    assert held[700:703].max() >= threshold and released[700:703].max() >= threshold
    assert held[724:727].max() < threshold  # a week's hold at one sample an hour
    assert released[724:727].max() >= threshold


def test_an_incident_that_goes_on_stays_one_alarm_with_the_release():
    rng = np.random.default_rng(5)
    values = 50.0 + rng.normal(0.0, 1.0, 1000)
    values[700:760] += 40.0 + rng.normal(0.0, 1.0, 60)  # 60 hours at a new level
    _, held = _scores(values)
    _, released = _scores(values, sup_quiet_s=10800.0)
    during = slice(700, 760)
    assert (held[during] >= 0.21).sum() == (released[during] >= 0.21).sum() == 1


def _nightly_batch(days=30, seed=6):
    hours = np.arange(days * 24)
    rng = np.random.default_rng(seed)
    values = 100.0 + rng.uniform(-10.0, 10.0, hours.size)
    values[hours % 24 == 2] += 60.0  # a batch job every night at 02:00
    return hours, values


def test_seasonal_recall_knows_a_nightly_batch_the_profile_is_too_weak_to_forecast():
    hours, values = _nightly_batch()
    nights = (hours % 24 == 2) & (hours >= 10 * 24)
    _, off = _scores(values, seas_recall=0.0)
    _, on = _scores(values)  # on by default (0.8), chosen by cross-validation
    assert (off[nights] >= 0.21).sum() >= 1  # without it a batch night still pages
    assert (on[nights] >= 0.21).sum() == 0
    shifted = values.copy()
    shifted[hours == 20 * 24 + 14] += 60.0  # the same surge at 14:00 is news either way
    _, on = _scores(shifted)
    assert on[20 * 24 + 14] >= 0.21


def test_new_settings_reject_nonsense():
    from alertflow.operators.anomaly.base import DetectorError

    for bad in ({"week_days": -1.0}, {"vol_weight": -0.5}, {"sup_quiet_s": -1.0},
                {"vol_span_s": -3.0}, {"week_strength": 2.0}):
        with pytest.raises(DetectorError):
            StreamingEnsemble(**bad)


def _hourly_spikes(days=40, seed=7):
    """An hourly series whose incidents are single-hour spikes amid slow wander."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    values = 100.0 + np.cumsum(rng.normal(0.0, 0.3, hours.size)) + rng.normal(0, 2, hours.size)
    return hours, values


def test_the_short_scale_sees_a_one_hour_spike_a_ten_hour_mean_dilutes():
    hours, values = _hourly_spikes()
    spike = 30 * 24 + 5
    values[spike] += 12.0  # six noise sigmas, for one hour
    # lik_span_s=0: the likelihood judges the mean of its whole 10-sample ring, as the
    # cross-validation picks on NAB's hourly ad-exchange files.
    _, diluted = _scores(values, lik_span_s=0.0, lik_short_s=0.0)
    _, both = _scores(values, lik_span_s=0.0)
    assert DetectorSettings().lik_short_s == 3000.0  # on by default
    assert both[spike] > diluted[spike] + 0.05
    # outside the spike the short scale changes little: its own history calibrates it
    calm = hours >= 10 * 24
    calm[spike : spike + 10] = False
    assert (both[calm] >= 0.21).sum() <= (diluted[calm] >= 0.21).sum() + 2


def test_peak_calibration_forgives_a_surprise_that_happens_every_day():
    rng = np.random.default_rng(8)
    hours = np.arange(40 * 24)
    values = 100.0 + rng.normal(0.0, 2.0, hours.size)
    # every day, at a wandering hour (so no daily profile can learn it), one value jumps
    daily = hours // 24 * 24 + rng.integers(0, 24, hours.size // 24).repeat(24)
    values[hours == daily] += 14.0
    late = hours >= 20 * 24
    _, off = _scores(values, lik_span_s=3000.0)
    _, on = _scores(values, lik_span_s=3000.0, peak_recall=1.0)
    assert DetectorSettings().peak_recall == 0.0
    assert on[late].sum() < 0.5 * off[late].sum()
    # an incident far beyond the ordinary day's peak is still news
    spike = 30 * 24 + 12
    big = values.copy()
    big[spike] += 60.0
    _, on = _scores(big, lik_span_s=3000.0, peak_recall=1.0)
    assert on[spike] >= 0.21


def test_peak_and_short_scale_settings_reject_nonsense():
    from alertflow.operators.anomaly.base import DetectorError

    for bad in ({"peak_recall": -0.1}, {"peak_recall": 1.5}, {"lik_short_s": -1.0}):
        with pytest.raises(DetectorError):
            StreamingEnsemble(**bad)
