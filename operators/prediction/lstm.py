"""Numpy-only inference of the LSTM forecaster that ``alertflow train lstm`` fits.

The model sees the last ``window`` bucket values and the seasonal-naive path (the values
one day before each step ahead), both normalised by the last value and the window's
spread, and predicts every step up to the horizon at once: a one-layer LSTM over the
window, then a linear head over [last hidden state, seasonal-naive path]. Weights live in
a plain ``.npz`` (PyTorch's gate order i, f, g, o), so the stream needs no PyTorch.
In the stream it is one more candidate of :mod:`combination` for the series that
``prediction.lstm`` selects: it forecasts only where its own recent errors are the lowest.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from alertflow.schemas.errors import AlertflowError

_DAY_S = 86_400
_ARRAYS = ("w_ih", "w_hh", "b_ih", "b_hh", "w_out", "b_out")


class WeightsError(AlertflowError):
    """A weights file that is missing, unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class LstmWeights:
    """One LSTM layer (input size 1) and a linear head; shapes as ``torch.nn.LSTM`` keeps them."""

    w_ih: np.ndarray  # (4 hidden, 1)
    w_hh: np.ndarray  # (4 hidden, hidden)
    b_ih: np.ndarray  # (4 hidden,)
    b_hh: np.ndarray  # (4 hidden,)
    w_out: np.ndarray  # (steps, hidden + steps)
    b_out: np.ndarray  # (steps,)
    window: int  # input buckets
    step_s: int  # bucket width the model was trained on

    @property
    def steps(self) -> int:
        """Steps ahead the head predicts."""
        return int(self.b_out.shape[0])

    @property
    def season(self) -> int:
        """Buckets in a day: how far back the seasonal-naive inputs look."""
        return max(1, _DAY_S // self.step_s)

    @property
    def history(self) -> int:
        """Values a forecast needs: the window, and a day before the last step ahead."""
        return max(self.window, self.season)

    def save(self, path: Path) -> None:
        """Write a plain ``.npz`` (no pickles)."""
        arrays = {k: getattr(self, k).astype(np.float32) for k in _ARRAYS}
        np.savez(path, window=self.window, step_s=self.step_s, **arrays)

    @classmethod
    def load(cls, path: Path) -> "LstmWeights":
        """Read and check a weights file; a :class:`WeightsError` says what is wrong."""
        try:
            with np.load(path, allow_pickle=False) as data:
                raw = {k: np.asarray(data[k], dtype=np.float64) for k in _ARRAYS}
                window, step_s = int(data["window"]), int(data["step_s"])
        except (OSError, ValueError, KeyError) as exc:
            raise WeightsError(f"{path}: not an LSTM weights file ({exc})") from exc
        weights = cls(**raw, window=window, step_s=step_s)
        weights.check()
        return weights

    def check(self) -> None:
        """Raise :class:`WeightsError` unless the shapes fit together."""
        four_h = self.w_hh.shape[0]
        hidden = four_h // 4
        expected = {
            "w_ih": (four_h, 1),
            "w_hh": (4 * hidden, hidden),
            "b_ih": (four_h,),
            "b_hh": (four_h,),
            "w_out": (self.steps, hidden + self.steps),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise WeightsError(f"{name} has shape {getattr(self, name).shape}, not {shape}")
        if self.window < 2 or self.step_s < 1 or four_h % 4 or four_h == 0:
            raise WeightsError(f"bad window {self.window}, step {self.step_s} or hidden size")


# Loaded once per file: every series that a weights file serves shares one copy, and
# the series' snapshots name the file instead of carrying the arrays.
_LOADED: dict[str, LstmWeights] = {}


def cached(path: str) -> LstmWeights:
    """The weights in ``path``, read on first use; WeightsError when they cannot be."""
    weights = _LOADED.get(path)
    if weights is None:
        weights = _LOADED[path] = LstmWeights.load(Path(path))
    return weights


def remember(name: str, weights: LstmWeights) -> None:
    """Serve ``weights`` under ``name`` as if loaded from there (benchmarks, tests)."""
    _LOADED[name] = weights


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def normalise(histories: np.ndarray, weights: LstmWeights) -> tuple[np.ndarray, ...]:
    """(window inputs, seasonal-naive inputs, centre, scale) for a batch of histories."""
    window = histories[:, -weights.window :]
    centre = window[:, -1:]
    # The spread of the window; a flat window is scaled by 1 so it stays a flat forecast.
    scale = np.std(window, axis=1, keepdims=True)
    scale = np.where(scale > 1e-9, scale, 1.0)
    m, steps = weights.season, weights.steps
    ahead = np.arange(1, steps + 1)
    back = histories.shape[1] - 1 + ahead - m * ((ahead - 1) // m + 1)
    seasonal = histories[:, back]
    return (window - centre) / scale, (seasonal - centre) / scale, centre, scale


def run_normalised(weights: LstmWeights, x: np.ndarray, seasonal: np.ndarray) -> np.ndarray:
    """The network on normalised inputs: (batch, window), (batch, steps) -> (batch, steps)."""
    hidden = weights.w_hh.shape[1]
    h = np.zeros((x.shape[0], hidden))
    c = np.zeros_like(h)
    w_ih, w_hh = weights.w_ih[:, 0], weights.w_hh.T
    bias = weights.b_ih + weights.b_hh
    for t in range(x.shape[1]):
        gates = x[:, t : t + 1] * w_ih + h @ w_hh + bias
        i, f, g, o = np.split(gates, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return np.concatenate([h, seasonal], axis=1) @ weights.w_out.T + weights.b_out


def forecast(weights: LstmWeights, histories: np.ndarray) -> np.ndarray:
    """Forecasts (batch, steps) from histories (batch, >= ``weights.history`` buckets)."""
    histories = np.atleast_2d(np.asarray(histories, dtype=np.float64))
    if histories.shape[1] < weights.history:
        raise ValueError(f"need {weights.history} buckets of history, got {histories.shape[1]}")
    if not np.all(np.isfinite(histories)):
        raise ValueError("history holds NaN or infinite values")
    x, seasonal, centre, scale = normalise(histories, weights)
    return run_normalised(weights, x, seasonal) * scale + centre
