"""Per-sample cost and state size of the streaming ensemble, beside River's HalfSpaceTrees.

Run from the repository root::

    .venv/bin/python bench/detector_cost.py            # 200k samples, 5 repeats, 2M-row detect
    .venv/bin/python bench/detector_cost.py --record   # also append to BENCHMARKS.md

One run, one series for every detector: 200,000 five-minute samples of a daily cycle with
noise, spikes and a level shift. Each figure is the median of ``--repeats`` runs over the
whole series with a fresh model:

- ``update_many``: the ensemble, one kernel call for the array (``alertflow detect`` and the
  per-shard micro-batches);
- ``update``: the ensemble, one Python call per sample;
- ``score_one`` + ``learn_one``: the ensemble as ``SeriesScorer`` drives it today;
- River's ``HalfSpaceTrees`` with River's defaults behind a ``MinMaxScaler``, as River's docs
  recommend: ``score_one`` then ``learn_one`` per sample.

State is the pickled size of one series' model after the run. Then ``alertflow detect`` on a
``--detect-rows`` synthetic CSV, as a subprocess: whole-process rows/s, and the start-up
alone (fastest of 5 runs on a one-row file) reported separately.
"""

import argparse
import datetime as dt
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as ``python bench/detector_cost.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertflow.operators.anomaly import StreamingEnsemble

from bench.nab import alertflow_command
from bench.report import command_line, machine, record

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Detector cost"
STEP_NS = 300 * 10**9
T0_NS = 1_388_534_400 * 10**9  # 2014-01-01T00:00:00Z


def realistic_series(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Five-minute samples: a daily cycle, noise, rare spikes and one level shift."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    values = 40.0 + 15.0 * np.sin(2 * np.pi * i / 288) + rng.normal(0.0, 2.0, n)
    values[rng.integers(0, n, max(n // 2000, 1))] += rng.uniform(20.0, 60.0)
    values[n // 2 :] += 10.0
    return values, T0_NS + i * STEP_NS


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``run`` and the model its last repeat left."""
    times, model = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        model = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), model


def ours_many(values: np.ndarray, stamps: np.ndarray, **settings: float) -> StreamingEnsemble:
    det = StreamingEnsemble(**settings)
    det.update_many(values, stamps)
    return det


def ours_update(values: list[float], stamps: list[int]) -> StreamingEnsemble:
    det = StreamingEnsemble()
    update = det.update
    for value, stamp in zip(values, stamps, strict=True):
        update(value, stamp)
    return det


def ours_score_learn(values: list[float], stamps: list[int]) -> StreamingEnsemble:
    det = StreamingEnsemble()
    for value, stamp in zip(values, stamps, strict=True):
        det.score_one(value, stamp)
        det.learn_one(value, stamp)
    return det


def hst(values: list[float], seed: int) -> object:
    from river import anomaly, compose, preprocessing

    model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=seed))
    for value in values:
        sample = {"value": value}
        model.score_one(sample)
        model.learn_one(sample)
    return model


def detect_throughput(rows: int, seed: int) -> tuple[float, float]:
    """Wall seconds of ``alertflow detect`` on a ``rows``-row CSV, and of its start-up."""
    values, stamps = realistic_series(rows, seed)
    text = np.datetime_as_string(stamps.astype("datetime64[ns]"), unit="s")
    command = alertflow_command()
    with tempfile.TemporaryDirectory() as tmp:
        big, one = Path(tmp) / "big.csv", Path(tmp) / "one.csv"
        with big.open("w") as out:
            out.write("timestamp,value\n")
            out.writelines(f"{t.replace('T', ' ')},{v:.3f}\n"
                           for t, v in zip(text.tolist(), values.tolist(), strict=True))
        one.write_text("timestamp,value\n2014-01-01 00:00:00,1.0\n")
        startup = min(_wall(command, one) for _ in range(5))
        seconds = _wall(command, big)
    return seconds, startup


def _wall(command: list[str], path: Path) -> float:
    began = time.perf_counter()
    subprocess.run([*command, "detect", str(path)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - began




def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python bench/detector_cost.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--detect-rows", type=int, default=2_000_000,
                        help="rows of the synthetic CSV for alertflow detect (0: skip)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--record", action="store_true", help="append the table to BENCHMARKS.md")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=VALUE",
                        help="also time update_many with these settings changed (repeatable; "
                        "e.g. the defaults before a change, for a before/after ratio)")
    args = parser.parse_args(argv)
    changed = {k.strip(): float(v) for k, _, v in (c.partition("=") for c in args.compare)}

    values, stamps = realistic_series(args.samples)
    value_list, stamp_list = values.tolist(), stamps.tolist()
    ours_many(values[:10], stamps[:10])  # load (or compile) the kernels outside the timings
    reference = "River `HalfSpaceTrees` (defaults) + `MinMaxScaler`, `score_one` + `learn_one`"
    runs = {
        "ensemble, `update_many` (one kernel call per array)":
            lambda: ours_many(values, stamps),
        "ensemble, `update` (one Python call per sample)":
            lambda: ours_update(value_list, stamp_list),
        "ensemble, `score_one` + `learn_one` (today's `SeriesScorer`)":
            lambda: ours_score_learn(value_list, stamp_list),
        reference: lambda: hst(value_list, args.seed),
    }
    if changed:
        label = ", ".join(f"{k}={v:g}" for k, v in changed.items())
        runs[f"ensemble with {label}, `update_many`"] = lambda: ours_many(values, stamps,
                                                                          **changed)
    cost, sizes = {}, {}
    for name, run in runs.items():
        seconds, model = median_seconds(run, args.repeats)
        cost[name] = 1e6 * seconds / args.samples
        sizes[name] = len(pickle.dumps(model))
        print(f"{name}: {cost[name]:.3f} µs/sample", file=sys.stderr)
    rows = ["| detector | µs per sample | HST's cost / this | state per series (pickle) |",
            "|---|---|---|---|"]
    for name, us in cost.items():
        rows.append(f"| {name} | {us:.3f} | {cost[reference] / us:.1f}x | {sizes[name]:,} B |")
    lines = ["\n".join(rows), "",
             f"{args.samples:,} five-minute samples (daily cycle, noise, spikes, a level shift); "
             f"median of {args.repeats} runs each, fresh model per run, same process."]
    if args.detect_rows:
        seconds, startup = detect_throughput(args.detect_rows, args.seed)
        lines += ["", f"`alertflow detect` on a {args.detect_rows:,}-row CSV: "
                      f"**{args.detect_rows / seconds:,.0f} rows/s** for the whole process "
                      f"({seconds:.2f} s, one core); start-up alone {1e3 * startup:.0f} ms "
                      f"(fastest of 5 one-row runs), "
                      f"{args.detect_rows / (seconds - startup):,.0f} rows/s without it."]
    md = "\n".join(lines)
    print(f"\n{md}")
    if args.record:
        today = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = command_line("bench/detector_cost.py", argv)
        record(SECTION, f"\n### Detector cost, {today}\n\nCommand: `{command}`  \n"
               f"Machine: {machine('numba', 'river', 'numpy')}\n\n{md}\n")
        print("appended to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
