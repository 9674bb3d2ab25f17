"""The online choice between candidate forecasters, and the LSTM as one of them."""

import subprocess
import sys

import numpy as np
import pytest
from alertflow.operators.prediction import lstm
from alertflow.operators.prediction.combination import CANDIDATES, SeasonalMemory
from alertflow.operators.prediction.forecaster import ForecasterSettings, SeasonalForecaster
from alertflow.operators.prediction.lstm import LstmWeights

NS = 10**9


def run(values, step_s=300, **settings):
    """Feed buckets; the 4 h-ahead absolute errors of the forecasts made after day 2."""
    f = SeasonalForecaster(ForecasterSettings(min_step_s=step_s, **settings))
    h = 4 * 3600 // step_s
    errors = []
    for i, v in enumerate(values):
        fc = f.learn_one(float(v), i * step_s * NS)
        if fc is not None and i * step_s > 2 * 86400:
            o = fc.origin_ns // (step_s * NS)
            if o + h < len(values):
                errors.append(abs(fc.mean[h - 1] - values[o + h]))
    return f, float(np.mean(errors))


def square_days(days, jump_day=None, noise=0.5, seed=0):
    """Busy hours and quiet hours that repeat daily (what Holt-Winters' hour bins smooth)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 288)
    y = np.where((t % 288) < 96, 80.0, 20.0) + rng.normal(0, noise, len(t))
    if jump_day is not None:
        y[jump_day * 288 :] += 30
    return y


def test_on_a_repeating_day_the_combination_beats_holt_winters_alone():
    y = square_days(8)
    _, alone = run(y, combine="off")
    f, combined = run(y, combine="best")
    assert combined < 0.6 * alone
    chosen = CANDIDATES[int(np.argmax(f.combiner.weights[-1]))]
    assert chosen == "daily_naive"


def test_weights_are_a_distribution_and_off_keeps_holt_winters():
    f, _ = run(square_days(5, noise=3.0), combine="weighted")
    assert np.allclose(f.combiner.weights.sum(axis=1), 1.0)
    assert (f.combiner.weights >= 0).all() and (f.combiner.weights[:, 1:] > 0).any()
    off, _ = run(square_days(5), combine="off")
    assert off.combiner.weights is None
    fc = off.forecast()
    assert np.array_equal(fc.mean, off.mean_path(fc.origin_ns, len(fc.mean)))


def test_a_random_walk_leans_on_the_recent_level_not_a_trend():
    rng = np.random.default_rng(5)
    y = 100 + np.cumsum(rng.normal(0, 1, 288 * 6))
    _, alone = run(y, combine="off")
    _, combined = run(y, combine="best")
    assert combined <= alone


def test_seasonal_memory_keeps_the_last_period_in_time_order():
    m = SeasonalMemory(period_s=4 * 60, step_s=60)
    for i in range(6):
        m.learn(float(i), i * 60 * NS)
    assert m.history().tolist() == [2.0, 3.0, 4.0, 5.0]  # the slot being filled comes last
    # A slot spanning several buckets holds their mean, written when the next slot begins.
    week = SeasonalMemory(period_s=7 * 86400, step_s=300)  # 336 slots of 30 minutes
    for i, v in enumerate([1.0, 3.0, 2.0, 2.0, 1.0, 3.0, 10.0]):
        week.learn(v, i * 300 * NS)
    assert week.slots == 336 and week.values[0] == 2.0 and np.isnan(week.values[1])


def hourly_weights(step_s=3600, seed=0, hidden=4):
    rng = np.random.default_rng(seed)
    steps = 4
    return LstmWeights(
        w_ih=rng.normal(0, 0.5, (4 * hidden, 1)), w_hh=rng.normal(0, 0.5, (4 * hidden, hidden)),
        b_ih=np.zeros(4 * hidden), b_hh=np.zeros(4 * hidden),
        w_out=rng.normal(0, 0.3, (steps, hidden + steps)), b_out=np.zeros(steps),
        window=12, step_s=step_s,
    )  # fmt: skip


def test_the_lstm_is_a_candidate_fed_with_the_last_day():
    lstm.remember("test:hourly", hourly_weights())
    y = 50 + 10 * np.sin(2 * np.pi * np.arange(24 * 4) / 24)
    f, _ = run(y, step_s=3600, lstm_weights="test:hourly")
    origin = f.last_bucket_ns
    paths = f.combiner.candidates(
        f.mean_path(origin, 4), f.baseline_path(origin, 4), 0.0, origin, 3600 * NS
    )
    # The last closed bucket is the one before the last sample (a bucket closes on the next).
    expected = lstm.forecast(lstm.cached("test:hourly"), y[-25:-1])[0]
    np.testing.assert_allclose(paths[CANDIDATES.index("lstm")], expected, rtol=1e-5)
    assert f.combiner.seen[0] > 0 and f.combiner.mae[0][CANDIDATES.index("lstm")] > 0


def test_a_series_of_another_width_keeps_the_online_candidates():
    lstm.remember("test:hourly", hourly_weights())
    f, _ = run(square_days(3), step_s=300, lstm_weights="test:hourly")
    assert f.combiner.lstm is None
    origin = f.last_bucket_ns
    hw = f.mean_path(origin, 48)
    paths = f.combiner.candidates(hw, hw, 0.0, origin, 300 * NS)
    assert np.array_equal(paths[CANDIDATES.index("lstm")], hw)  # it repeats Holt-Winters


@pytest.mark.parametrize("content", [None, b"not an npz"])
def test_a_bad_weights_file_stops_the_run_with_a_clear_error(tmp_path, content):
    weights = tmp_path / "w.npz"
    if content is not None:
        weights.write_bytes(content)
    (tmp_path / "c.yaml").write_text(
        "prediction:\n  thresholds:\n    - match: {__name__: x}\n      above: 1\n"
        "  lstm:\n    - match: {__name__: x}\n      weights: w.npz\n"
    )
    (tmp_path / "m.jsonl").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "run", "--config",
         str(tmp_path / "c.yaml"), "--input", f"metrics={tmp_path / 'm.jsonl'}",
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert "prediction.lstm" in done.stderr and "w.npz" in done.stderr
    assert "Traceback" not in done.stderr
