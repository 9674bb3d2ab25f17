"""The LSTM forecaster: numpy inference against PyTorch on the same weights, the weights
file, the history reader, and ``alertflow train lstm`` end to end."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alertflow.operators.prediction.lstm import LstmWeights, WeightsError, forecast
from alertflow.operators.prediction.lstm_train import HistoryError, TrainSettings, read_series
from hypothesis import given, settings
from hypothesis import strategies as st

if os.environ.get("CI") == "true":
    import torch  # CI installs torch (.ci/run): the match below must run there, not skip
else:
    torch = pytest.importorskip("torch")


def _torch_model(seed: int):
    from alertflow.operators.prediction.lstm_train import TorchForecaster

    torch.manual_seed(seed)
    model = TorchForecaster(hidden=8, steps=4)
    with torch.no_grad():  # larger than the default init, so every gate matters
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_inference_matches_pytorch_on_the_same_weights(seed, tmp_path):
    from alertflow.operators.prediction.lstm import normalise

    model = _torch_model(seed).to("cpu")
    weights = model.export(window=12, step_s=3600)
    weights.save(tmp_path / "w.npz")
    loaded = LstmWeights.load(tmp_path / "w.npz")
    rng = np.random.default_rng(seed)
    histories = rng.normal(50, 10, size=(16, loaded.history)).cumsum(axis=1)
    x, seasonal, centre, scale = normalise(histories, loaded)
    with torch.no_grad():
        expected = model(torch.tensor(x, dtype=torch.float32),
                         torch.tensor(seasonal, dtype=torch.float32)).double().numpy()
    got = forecast(loaded, histories)
    np.testing.assert_allclose(got, expected * scale + centre, rtol=1e-4, atol=1e-4 * scale.max())
    assert not np.allclose(got, centre)  # the network is not a no-op on these weights


def test_training_learns_a_daily_pattern_better_than_a_flat_forecast():
    from alertflow.operators.prediction.lstm_train import train

    t = np.arange(24 * 30)
    rng = np.random.default_rng(3)
    y = 100 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t))
    settings = TrainSettings(step_s=3600, horizon_s=4 * 3600, window=12, hidden=8, stride=1,
                             epochs=40, batch=64, lr=1e-2)
    weights, device = train([y[:600]], settings)
    assert device in ("cpu", "cuda")
    hist = np.array([y[o - weights.history + 1 : o + 1] for o in range(600, 710, 5)])
    truth = np.array([y[o + 1 : o + 5] for o in range(600, 710, 5)])
    lstm_err = np.mean(np.abs(forecast(weights, hist) - truth))
    flat_err = np.mean(np.abs(hist[:, -1:] - truth))
    assert lstm_err < 0.5 * flat_err


def test_weights_file_with_wrong_shapes_is_a_clear_error(tmp_path):
    w = _torch_model(0).export(window=12, step_s=3600)
    bad = LstmWeights(**{**{k: getattr(w, k) for k in LstmWeights.__slots__},
                         "w_out": np.zeros((4, 3))})
    bad.save(tmp_path / "bad.npz")
    with pytest.raises(WeightsError, match="w_out"):
        LstmWeights.load(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not an LSTM weights file"):
        LstmWeights.load(tmp_path / "junk.npz")


def test_forecast_refuses_short_or_non_finite_history():
    w = _torch_model(0).export(window=12, step_s=3600)
    with pytest.raises(ValueError, match="need 24"):
        forecast(w, np.ones(10))
    with pytest.raises(ValueError, match="NaN"):
        forecast(w, np.full(24, np.nan))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
                min_size=1, max_size=5))
def test_history_reader_accepts_good_rows_and_names_the_line_of_bad_ones(tmp_path_factory, cells):
    path = tmp_path_factory.mktemp("h") / "s.csv"
    rows = [f"2024-01-01 00:0{i}:00,{c.replace(',', ' ')}" for i, c in enumerate(cells)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    try:
        ts, vs = read_series(path)
    except HistoryError as exc:
        assert str(path) in str(exc)
        return
    assert len(ts) == len(vs) == len(cells) and np.all(np.isfinite(vs))


def _csv(path: Path, days: int, step_s: int) -> None:
    t = np.arange(0, days * 86400, step_s)
    v = 10 + 3 * np.sin(2 * np.pi * t / 86400)
    lines = [f"{np.datetime64(int(s), 's').astype(str).replace('T', ' ')},{x:.4f}"
             for s, x in zip(t, v, strict=True)]
    path.write_text("timestamp,value\n" + "\n".join(lines) + "\n")


def test_cli_trains_and_writes_weights_numpy_can_run(tmp_path):
    (tmp_path / "hist").mkdir()
    _csv(tmp_path / "hist" / "a.csv", days=4, step_s=3600)
    out = tmp_path / "w.npz"
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "train", "lstm", "--history",
         str(tmp_path / "hist"), "--out", str(out), "--horizon-s", "14400", "--step-s", "3600",
         "--epochs", "1"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "trained on 1 series" in done.stdout
    w = LstmWeights.load(out)
    assert (w.steps, w.step_s) == (4, 3600)
    assert forecast(w, np.ones(w.history)).shape == (1, 4)


def test_cli_says_what_is_wrong_with_history(tmp_path):
    (tmp_path / "bad.csv").write_text("time,v\n1,2\n")
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "train", "lstm", "--history",
         str(tmp_path / "bad.csv"), "--out", str(tmp_path / "w.npz")],
        capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "timestamp and value" in done.stderr
