"""``alertflow train lstm``: fit the LSTM forecaster offline and save its weights (.npz)."""

import argparse
from pathlib import Path
from typing import Any

from alertflow.schemas.errors import AlertflowError


def add_parsers(sub: Any) -> None:
    """Register ``train`` on the top-level subparsers."""
    train = sub.add_parser("train", help="train offline models").add_subparsers(
        dest="train", required=True
    )
    lstm = train.add_parser(
        "lstm",
        help="train the LSTM forecaster (needs the [deep] extra: PyTorch)",
        description="Fit a small LSTM forecaster on exported history (timestamp,value CSV "
        "files, or every CSV under a directory) and save plain .npz weights that the stream "
        "runs with numpy only. Uses CUDA when present, else the CPU.",
    )
    lstm.add_argument("--history", type=Path, required=True, metavar="FILE_OR_DIR")
    lstm.add_argument("--out", type=Path, required=True, metavar="WEIGHTS.npz")
    lstm.add_argument("--horizon-s", type=int, default=14400, help="default 14400 (4 h)")
    lstm.add_argument("--step-s", type=int, default=300, help="bucket width (default 300)")
    lstm.add_argument("--epochs", type=int, default=6)
    lstm.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> None:
    """Train and save; one line saying what was fitted."""
    try:
        import torch  # noqa: F401 - only to say clearly that the extra is missing
    except ImportError as exc:
        raise AlertflowError(
            "train lstm needs PyTorch: pip install 'alertflow[deep]'"
        ) from exc
    from alertflow.operators.prediction.lstm_train import TrainSettings, load_history, train

    if args.horizon_s < args.step_s or args.step_s < 1:
        raise AlertflowError("--horizon-s must be at least --step-s, and --step-s positive")
    settings = TrainSettings(
        step_s=args.step_s, horizon_s=args.horizon_s, epochs=args.epochs, seed=args.seed
    )
    series = load_history(args.history, settings.step_s)
    weights, device = train(series, settings)
    weights.save(args.out)
    print(
        f"trained on {len(series)} series ({device}): {weights.steps} steps of "
        f"{weights.step_s} s ahead from {weights.window} buckets -> {args.out}"
    )
