"""Offline training of the LSTM forecaster (PyTorch, the optional ``[deep]`` extra).

History is ``timestamp,value`` CSV files (NAB and ops layouts), a file or every CSV
under a directory. Each series is averaged into buckets of the model's width (gaps
carried forward); training windows are cut from every series long enough to hold a day
plus the horizon, and the loss is the mean absolute error of the normalised forecast
(the numerator of MASE). PyTorch is imported only here, never by the stream.
"""

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from alertflow.operators.prediction.lstm import LstmWeights, normalise
from alertflow.schemas.errors import AlertflowError


class HistoryError(AlertflowError):
    """History that cannot be read as ``timestamp,value`` series."""


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """Model size and the optimiser's budget (small: CPU is enough)."""

    step_s: int = 300
    horizon_s: int = 4 * 3600
    window: int = 48
    hidden: int = 16
    epochs: int = 6
    batch: int = 256
    lr: float = 3e-3
    stride: int = 3  # buckets between training windows
    max_windows: int = 30_000
    seed: int = 0


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds and values of one ``timestamp,value`` CSV, sorted by time."""
    ts, vs = [], []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise HistoryError(f"{path}: needs a header with timestamp and value columns")
        for line, row in enumerate(reader, start=2):
            try:
                t = datetime.fromisoformat(row["timestamp"] or "")
                v = float(row["value"] or "")
            except (TypeError, ValueError) as exc:
                raise HistoryError(f"{path}:{line}: {exc}") from exc
            if not np.isfinite(v):
                raise HistoryError(f"{path}:{line}: value {v} is not finite")
            ts.append(int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()))
            vs.append(v)
    order = np.argsort(np.array(ts, dtype=np.int64), kind="stable")
    return np.array(ts, dtype=np.int64)[order], np.array(vs)[order]


def bucket(ts: np.ndarray, vs: np.ndarray, step_s: int) -> np.ndarray:
    """Bucket means on a regular ``step_s`` grid; empty buckets repeat the last mean."""
    if len(ts) == 0:
        return np.empty(0)
    idx = (ts - ts[0]) // step_s
    sums, counts = np.bincount(idx, vs), np.bincount(idx)
    out = np.empty(len(sums))
    last = vs[0]
    for i, (s, c) in enumerate(zip(sums, counts, strict=True)):
        last = s / c if c else last
        out[i] = last
    return out


def load_history(source: Path, step_s: int) -> list[np.ndarray]:
    """Bucketed series from a CSV file or every CSV under a directory."""
    if not source.exists():
        raise HistoryError(f"{source}: no such file or directory")
    files = sorted(source.rglob("*.csv")) if source.is_dir() else [source]
    if not files:
        raise HistoryError(f"{source}: no .csv files")
    return [bucket(*read_series(f), step_s) for f in files]


def windows(series: list[np.ndarray], weights: LstmWeights, stride: int) -> np.ndarray:
    """Histories followed by their targets: (n, history + steps)."""
    span = weights.history + weights.steps
    rows = [
        y[o - weights.history + 1 : o + 1 + weights.steps]
        for y in series
        for o in range(weights.history - 1, len(y) - weights.steps, stride)
    ]
    return np.array(rows) if rows else np.empty((0, span))


def _untrained(settings: TrainSettings) -> LstmWeights:
    steps = max(1, settings.horizon_s // settings.step_s)
    h = settings.hidden
    return LstmWeights(
        w_ih=np.zeros((4 * h, 1)), w_hh=np.zeros((4 * h, h)), b_ih=np.zeros(4 * h),
        b_hh=np.zeros(4 * h), w_out=np.zeros((steps, h + steps)), b_out=np.zeros(steps),
        window=settings.window, step_s=settings.step_s,
    )  # fmt: skip


class TorchForecaster:
    """The same network in PyTorch, for training and for checking numpy inference."""

    def __init__(self, hidden: int, steps: int) -> None:
        """Build the layers (PyTorch's default initialisation)."""
        import torch

        self.lstm = torch.nn.LSTM(1, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden + steps, steps)

    def parameters(self) -> list:
        """Every trainable tensor."""
        return [*self.lstm.parameters(), *self.head.parameters()]

    def to(self, device: str) -> "TorchForecaster":
        """Move to a device."""
        self.lstm.to(device)
        self.head.to(device)
        return self

    def __call__(self, x, seasonal):
        """Normalised window (batch, window) and seasonal path -> normalised forecast."""
        import torch

        _, (h, _) = self.lstm(x.unsqueeze(-1))
        return self.head(torch.cat([h[-1], seasonal], dim=1))

    def export(self, window: int, step_s: int) -> LstmWeights:
        """The weights as numpy arrays."""
        def arr(t) -> np.ndarray:
            return t.detach().cpu().double().numpy()

        return LstmWeights(
            w_ih=arr(self.lstm.weight_ih_l0), w_hh=arr(self.lstm.weight_hh_l0),
            b_ih=arr(self.lstm.bias_ih_l0), b_hh=arr(self.lstm.bias_hh_l0),
            w_out=arr(self.head.weight), b_out=arr(self.head.bias), window=window, step_s=step_s,
        )  # fmt: skip


def train(series: list[np.ndarray], settings: TrainSettings) -> tuple[LstmWeights, str]:
    """Fit on the series' windows; the weights and the device used (CUDA when present)."""
    import torch

    torch.manual_seed(settings.seed)
    shape = _untrained(settings)
    data = windows(series, shape, settings.stride)
    if len(data) == 0:
        raise HistoryError(
            f"no series spans {shape.history + shape.steps} buckets of {settings.step_s} s"
        )
    rng = np.random.default_rng(settings.seed)
    if len(data) > settings.max_windows:
        data = data[rng.choice(len(data), settings.max_windows, replace=False)]
    x, seasonal, centre, scale = normalise(data[:, : shape.history], shape)
    target = (data[:, shape.history :] - centre) / scale
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tensors = [torch.tensor(a, dtype=torch.float32, device=device) for a in (x, seasonal, target)]
    model = TorchForecaster(settings.hidden, shape.steps).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    for _ in range(settings.epochs):
        for idx in torch.randperm(len(data), device=device).split(settings.batch):
            optimiser.zero_grad()
            pred = model(tensors[0][idx], tensors[1][idx])
            # Mean absolute error, clipped: a level jump in one window must not steer all.
            loss = torch.clamp((pred - tensors[2][idx]).abs(), max=20.0).mean()
            loss.backward()
            optimiser.step()
    return model.export(settings.window, settings.step_s), device
