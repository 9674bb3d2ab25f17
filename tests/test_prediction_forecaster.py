"""The online forecaster: what it learns, its intervals, its state."""

import itertools
import pickle

import numpy as np
import pytest
from alertflow.operators.prediction.forecaster import ForecasterSettings, SeasonalForecaster

STEP_S = 300
NS = 10**9


def feed(values, step_s=STEP_S, settings=None, start_s=0):
    f = SeasonalForecaster(settings or ForecasterSettings())
    forecasts = []
    for i, v in enumerate(values):
        fc = f.learn_one(float(v), (start_s + i * step_s) * NS)
        if fc is not None:
            forecasts.append(fc)
    return f, forecasts


def day_sine(n, amp=10.0, noise=0.0, slope=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * STEP_S
    return 50 + amp * np.sin(2 * np.pi * t / 86400) + slope * np.arange(n) + rng.normal(0, noise, n)


@pytest.mark.parametrize(
    "name, values, h_steps, truth, tol",
    [
        ("constant", np.full(600, 7.0), 48, lambda i: 7.0, 1e-6),
        ("ramp", 10 + 0.01 * np.arange(2000), 12, lambda i: 10 + 0.01 * i, 0.05),
        ("daily cycle", day_sine(288 * 10), 48, lambda i: day_sine(i + 1)[i], 1.5),
    ],
)
def test_forecast_follows_what_it_learnt(name, values, h_steps, truth, tol):
    _, forecasts = feed(values)
    fc = forecasts[-1]
    origin = fc.origin_ns // (STEP_S * NS)
    assert abs(fc.mean[h_steps - 1] - truth(origin + h_steps)) < tol, name


def test_interval_covers_about_ninety_percent_of_outcomes():
    n = 288 * 14
    y = day_sine(n, noise=1.0, seed=3)
    _, forecasts = feed(y)
    inside = []
    for fc in forecasts:
        i = fc.origin_ns // (STEP_S * NS)
        if i > 288 * 4 and i + 48 < n:
            inside.append(fc.lower[47] <= y[i + 48] <= fc.upper[47])
    assert 0.8 <= np.mean(inside) <= 0.97


def test_interval_widens_with_the_horizon():
    _, forecasts = feed(day_sine(288 * 5, noise=1.0))
    width = forecasts[-1].upper - forecasts[-1].lower
    assert width[-1] > width[0] > 0


@pytest.mark.parametrize("every_s, expected", [(900, 3), (3600, 12)])
def test_forecasts_come_on_the_cadence_not_every_sample(every_s, expected):
    _, forecasts = feed(np.ones(400), settings=ForecasterSettings(forecast_every_s=every_s))
    gaps = {(b.origin_ns - a.origin_ns) // (STEP_S * NS) for a, b in itertools.pairwise(forecasts)}
    assert gaps == {expected}


def test_cadence_is_learnt_with_a_floor():
    f, _ = feed(np.ones(50), step_s=30)
    assert f.step_ns == 300 * NS
    f, _ = feed(np.ones(50), step_s=3600)
    assert f.step_ns == 3600 * NS
    assert f.horizon_steps == 4


def test_a_spike_does_not_bend_the_forecast():
    y = np.full(1000, 20.0) + np.random.default_rng(1).normal(0, 0.5, 1000)
    y[900] = 500.0
    f, _ = feed(y)
    assert abs(f.forecast().mean[-1] - 20.0) < 2.0


def test_gaps_carry_the_level_across():
    y = 10 + 0.01 * np.arange(3000)
    f = SeasonalForecaster()
    for i in list(range(1000)) + list(range(1500, 3000)):  # a 500-step hole
        f.learn_one(float(y[i]), i * STEP_S * NS)
    assert abs(f.forecast().mean[0] - y[2999]) < 0.3


def test_state_is_small_bounded_and_pickles():
    f, _ = feed(day_sine(288 * 8, noise=1.0))
    assert len(f.pending) <= f.horizon_steps  # one key per target bucket within the horizon
    clone = pickle.loads(pickle.dumps(f))
    a, b = f.forecast(), clone.forecast()
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.upper, b.upper)
    # ~2.5 KB of it are the day and week rings of the seasonal-naive candidates (combination)
    assert len(pickle.dumps(f)) < 12 * 1024
