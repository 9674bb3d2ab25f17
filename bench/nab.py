"""NAB detection quality: ``alertflow detect`` against two baselines, scored the NAB v1.1 way.

Run from the repository root::

    .venv/bin/python bench/nab.py                          # the shared dev subset
    .venv/bin/python bench/nab.py --detectors alertflow    # only ours (quicker, for tuning)
    .venv/bin/python bench/nab.py --record                 # also append to BENCHMARKS.md

Every CSV under ``--data`` (``<category>/<name>.csv``, ``timestamp,value``) is scored by:

- ``alertflow``: the product's own interface, ``alertflow detect FILE`` as one subprocess per
  file. Its µs/sample is the summed subprocess wall time over the samples, so it includes one
  process start-up per file; the start-up alone (a one-row file) is printed beside it.
- ``hst``: River's ``HalfSpaceTrees`` behind a ``MinMaxScaler``, as River's docs recommend
  (feature: the value; score before learn). 25 trees and window 250 as in Tan et al. (2011),
  but River's default height 8: height 15 builds 25 * 65,535 nodes per file (~8 s) and costs
  ~0.6 ms per sample, several minutes on this subset (``--hst-height 15`` runs it anyway).
- ``gaussian``: NAB's ``windowedGaussian`` baseline (window 6400, step 100: the window grows to
  6400 values, then moves 100 values at a time; score ``1 - Q(|x - mean| / std)``), computed
  with numpy; its µs/sample is a vectorised batch, not a streaming cost.

Scores follow ``bench/nab_scoring.py``: one threshold per profile for the whole corpus, chosen
exactly. The published figures printed beneath are NAB's full corpus (58 files), not this run.
"""

import argparse
import csv
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as ``python bench/nab.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.nab_scoring import (
    PROFILES,
    STANDARD,
    CorpusScore,
    LabelledSeries,
    normalised_score,
    null_score,
    perfect_score,
    score_corpus,
    threshold_curve,
    window_rows,
)
from bench.report import command_line, machine, record

REPO = Path(__file__).resolve().parents[1]
NAB = REPO.parent / "shared" / "datasets" / "nab"
DETECTORS = ("alertflow", "hst", "gaussian")
SECTION = "## Detection quality (NAB)"
PUBLISHED = (  # NAB scoreboard, standard profile, all 58 files
    ("ARTime", 74.9), ("Numenta HTM", 70.5), ("CAD OSE", 69.9),
    ("Random Cut Forest", 51.7), ("Windowed Gaussian", 39.6),
)


@dataclass(frozen=True)
class DataFile:
    """One labelled CSV of the corpus."""

    path: Path
    series: LabelledSeries
    values: np.ndarray


@dataclass(frozen=True)
class DetectorRun:
    """A detector's scores for every file, and the time it took."""

    name: str
    scores: list[np.ndarray]
    seconds: float
    samples: int
    note: str = ""

    @property
    def us_per_sample(self) -> float:
        return 1e6 * self.seconds / max(self.samples, 1)


# --------------------------------------------------------------------------- the corpus


def load_corpus(data_dir: Path, labels_path: Path) -> list[DataFile]:
    try:
        labels = json.loads(labels_path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{labels_path}: expected a NAB windows JSON file ({exc})") from None
    paths = sorted(data_dir.rglob("*.csv"))
    if not paths:
        raise SystemExit(f"{data_dir}: expected <category>/<name>.csv files, found none")
    corpus = []
    for path in paths:
        name = path.relative_to(data_dir).as_posix()
        if name not in labels:
            raise SystemExit(f"{labels_path}: no windows for {name}")
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        stamps = [row[0] for row in rows]
        values = np.array([_number(row[1]) for row in rows])
        series = LabelledSeries(name, len(rows), window_rows(stamps, labels[name]))
        corpus.append(DataFile(path=path, series=series, values=values))
    return corpus


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


# --------------------------------------------------------------------------- detectors


def alertflow_command() -> list[str]:
    script = Path(sys.executable).with_name("alertflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "alertflow.dataflows.cli"]


def _detect(path: Path) -> tuple[np.ndarray, float]:
    began = time.perf_counter()
    proc = subprocess.run([*alertflow_command(), "detect", str(path)],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(
            f"alertflow detect {path} exited {proc.returncode}:\n{proc.stderr[-2000:]}"
        )
    # The score is the last column; it is empty where the value was not a finite number.
    cells = [line.rsplit(",", 1)[1] for line in proc.stdout.splitlines()[1:]]
    return np.array([_number(cell) if cell else math.nan for cell in cells]), seconds


def run_alertflow(corpus: Sequence[DataFile]) -> DetectorRun:
    scores, seconds = [], 0.0
    for data in corpus:
        file_scores, took = _detect(data.path)
        if file_scores.size != data.series.n_rows:
            raise SystemExit(f"alertflow detect {data.path}: expected {data.series.n_rows} rows, "
                             f"got {file_scores.size}")
        scores.append(file_scores)
        seconds += took
    startup = startup_seconds()
    samples = sum(int(np.isfinite(s).sum()) for s in scores)
    share = 1e6 * startup * len(corpus) / max(samples, 1)
    note = (f"wall time of {len(corpus)} `alertflow detect` processes, so it includes process "
            f"start-up: {1e3 * startup:.0f} ms/process alone (fastest one-row run), "
            f"≈{share:.1f} µs/sample of the figure")
    return DetectorRun("alertflow", scores, seconds, samples, note)


def startup_seconds(repeats: int = 5) -> float:
    """Fastest wall time of ``alertflow detect`` on a one-row file: the per-process overhead.

    The fastest, not the median: on a shared machine the others mostly measure the neighbours.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one.csv"
        path.write_text("timestamp,value\n2014-01-01 00:00:00,1.0\n")
        return min(_detect(path)[1] for _ in range(repeats))


def _finite_only(values: np.ndarray, detect: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Run ``detect`` on the finite values only (as ``alertflow detect`` skips the rest)."""
    scores = np.full(values.size, math.nan)
    finite = np.isfinite(values)
    scores[finite] = detect(values[finite])
    return scores


def hst_scores(values: np.ndarray, trees: int, height: int, window: int, seed: int) -> np.ndarray:
    from river import anomaly, compose, preprocessing

    model = compose.Pipeline(
        preprocessing.MinMaxScaler(),
        anomaly.HalfSpaceTrees(n_trees=trees, height=height, window_size=window, seed=seed),
    )
    scores = np.empty(values.size)
    for i, value in enumerate(values.tolist()):
        sample = {"value": value}
        scores[i] = model.score_one(sample)
        model.learn_one(sample)
    return np.clip(scores, 0.0, 1.0)  # HST's score is already in [0, 1]


def run_hst(corpus: Sequence[DataFile], args: argparse.Namespace) -> DetectorRun:
    began = time.perf_counter()
    scores = [
        _finite_only(d.values, lambda v: hst_scores(v, args.hst_trees, args.hst_height,
                                                    args.hst_window, args.seed))
        for d in corpus
    ]
    seconds = time.perf_counter() - began
    note = (f"in-process River, n_trees={args.hst_trees}, height={args.hst_height}, "
            f"window_size={args.hst_window}, seed={args.seed}; incl. tree building per file")
    return DetectorRun("hst", scores, seconds, sum(d.values.size for d in corpus), note)


def windowed_gaussian_scores(values: np.ndarray, window: int = 6400,
                             step: int = 100) -> np.ndarray:
    """NAB's windowedGaussian: the tail probability of each value under the window's normal.

    Row ``i`` is scored with the window as it was before ``i``: ``values[:i]`` while the window
    fills, then the last ``window`` values as of the latest multiple of ``step`` past it.
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    rows = np.arange(n)
    end = np.where(rows <= window, rows, window + step * ((rows - window) // step))
    mean = np.zeros(n)
    std = np.ones(n)
    growing = (rows >= 1) & (rows <= window)
    if growing.any():
        # Prefix sums, shifted by the first value so large levels keep their precision.
        y = x - x[0]
        count = end[growing]
        s1 = np.cumsum(y)[count - 1]
        s2 = np.cumsum(y * y)[count - 1]
        mean[growing] = x[0] + s1 / count
        std[growing] = np.sqrt(np.maximum(s2 / count - (s1 / count) ** 2, 0.0))
        flat = np.maximum.accumulate(x)[count - 1] == np.minimum.accumulate(x)[count - 1]
        std[np.flatnonzero(growing)[flat]] = 0.0
    for stop in np.unique(end[rows > window]):
        segment = x[stop - window : stop]
        at = end == stop
        mean[at], std[at] = np.mean(segment), np.std(segment)
    std[std == 0.0] = 1e-6
    z = np.abs(x - mean) / std
    scores = 1.0 - 0.5 * np.frompyfunc(math.erfc, 1, 1)(z / math.sqrt(2.0)).astype(np.float64)
    if n:
        scores[0] = 0.0
    return scores


def run_gaussian(corpus: Sequence[DataFile]) -> DetectorRun:
    began = time.perf_counter()
    scores = [_finite_only(d.values, windowed_gaussian_scores) for d in corpus]
    seconds = time.perf_counter() - began
    return DetectorRun("gaussian", scores, seconds, sum(d.values.size for d in corpus),
                       "numpy batch (window 6400, step 100), not a streaming cost")


# --------------------------------------------------------------------------- tables


def _fmt(score: float) -> str:
    return "—" if math.isnan(score) else f"{score:.1f}"


def _threshold(threshold: float) -> str:
    return "detects nothing" if math.isinf(threshold) else f"≥{threshold:.6g}"


def summary_table(runs: Sequence[DetectorRun], results: dict[str, dict[str, CorpusScore]]) -> str:
    head = "| detector | " + " | ".join(p.name for p in PROFILES) + " | µs per sample | note |"
    rows = [head, "|" + "---|" * (len(PROFILES) + 3)]
    for run in runs:
        cells = [f"{_fmt(results[run.name][p.name].normalised)} "
                 f"({_threshold(results[run.name][p.name].threshold)})" for p in PROFILES]
        rows.append(f"| {run.name} | " + " | ".join(cells)
                    + f" | {run.us_per_sample:.1f} | {run.note} |")
    rows.append("")
    rows.append("Cells: normalised NAB score (the corpus threshold chosen for that profile).")
    rows.append("")
    rows.append("Published NAB scoreboard, standard profile, **full corpus (58 files), not this "
                "run** — for reference only:")
    rows.append("")
    rows.append("| detector (published) | standard |")
    rows.append("|---|---|")
    rows.extend(f"| {name} | {score:.1f} |" for name, score in PUBLISHED)
    return "\n".join(rows)


def category_table(runs: Sequence[DetectorRun], results: dict[str, dict[str, CorpusScore]],
                   corpus: Sequence[LabelledSeries]) -> str:
    """Standard-profile score per category, at each detector's corpus threshold."""
    names = [r.name for r in runs]
    detailed = "alertflow" if "alertflow" in results else names[0]
    categories = sorted({s.name.split("/")[0] for s in corpus})
    rows = ["| category | files | windows | " + " | ".join(names)
            + f" | {detailed}: windows hit / FPs / FP cost |",
            "|" + "---|" * (len(names) + 4)]
    for category in categories:
        cells = []
        for name in names:
            files = [f for f in results[name][STANDARD.name].files
                     if f.name.startswith(category + "/")]
            members = [s for s in corpus if s.name.startswith(category + "/")]
            raw = sum(f.raw for f in files)
            null = sum(null_score(s, STANDARD) for s in members)
            perfect = sum(perfect_score(s, STANDARD) for s in members)
            score = normalised_score(raw, null, perfect)
            cells.append(f"— (raw {raw:.2f})" if math.isnan(score) else _fmt(score))
        ours = [f for f in results[detailed][STANDARD.name].files
                if f.name.startswith(category + "/")]
        windows = sum(f.windows for f in ours)
        detail = (f"{sum(f.detected_windows for f in ours)}/{windows} / "
                  f"{sum(f.false_positives for f in ours)} / {sum(f.fp for f in ours):.2f}")
        rows.append(f"| {category} | {len(ours)} | {windows} | " + " | ".join(cells)
                    + f" | {detail} |")
    return "\n".join(rows)


def fp_table(result: CorpusScore, top: int = 8) -> str:
    """The files whose false positives cost the most, at the corpus threshold."""
    files = sorted(result.files, key=lambda f: f.fp)[:top]
    total = sum(f.fp for f in result.files)
    rows = [f"FP cost {total:.2f} in all ({sum(f.false_positives for f in result.files)} FPs); "
            f"the {len(files)} costliest files:", "",
            "| file | FPs | FP cost | windows hit | TP | FN | raw |",
            "|---|---|---|---|---|---|---|"]
    rows.extend(
        f"| {f.name} | {f.false_positives} | {f.fp:.2f} | {f.detected_windows}/{f.windows} | "
        f"{f.tp:.2f} | {f.fn:.0f} | {f.raw:.2f} |"
        for f in files if f.false_positives
    )
    return "\n".join(rows)


def alertflow_detail(corpus: Sequence[LabelledSeries], run: DetectorRun) -> str:
    """Where alertflow's standard score goes; at the best threshold that detects anything."""
    thresholds, raws = threshold_curve(corpus, run.scores, STANDARD)
    label = "alertflow, standard profile"
    if len(thresholds) > 1 and math.isinf(thresholds[int(np.argmax(raws))]):
        best = 1 + int(np.argmax(raws[1:]))
        label += (" — its optimum is to detect nothing; shown at the best threshold that "
                  "detects something")
    else:
        best = int(np.argmax(raws))
    result = score_corpus(corpus, run.scores, STANDARD, threshold=float(thresholds[best]))
    files = result.files
    return (f"{label} (≥{result.threshold:.6g}: score {_fmt(result.normalised)}, "
            f"{sum(f.detected_windows for f in files)}/{sum(f.windows for f in files)} windows "
            f"hit, TP {sum(f.tp for f in files):.2f}, FN {sum(f.fn for f in files):.0f}).\n\n"
            + fp_table(result))


# --------------------------------------------------------------------------- recording





# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python bench/nab.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=NAB / "data",
                        help="directory of <category>/<name>.csv files")
    parser.add_argument("--labels", type=Path, default=NAB / "combined_windows.json",
                        help="NAB combined_windows.json")
    parser.add_argument("--detectors", default=",".join(DETECTORS),
                        help=f"comma-separated, from {','.join(DETECTORS)}")
    parser.add_argument("--hst-trees", type=int, default=25)
    parser.add_argument("--hst-height", type=int, default=8)
    parser.add_argument("--hst-window", type=int, default=250)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--record", action="store_true", help="append the tables to BENCHMARKS.md")
    args = parser.parse_args(argv)
    chosen = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = sorted(set(chosen) - set(DETECTORS))
    if unknown or not chosen:
        parser.error(f"--detectors: expected some of {','.join(DETECTORS)}, got {args.detectors}")

    started = time.monotonic()
    corpus = load_corpus(args.data, args.labels)
    samples = sum(d.series.n_rows for d in corpus)
    windows = sum(len(d.series.windows) for d in corpus)
    print(f"{len(corpus)} files, {samples:,} samples, {windows} windows from {args.data}",
          file=sys.stderr)
    runners = {"alertflow": run_alertflow, "gaussian": run_gaussian,
               "hst": lambda c: run_hst(c, args)}
    runs = []
    for name in chosen:
        began = time.monotonic()
        runs.append(runners[name](corpus))
        print(f"{name}: {time.monotonic() - began:.1f} s", file=sys.stderr)
    series = [d.series for d in corpus]
    results = {run.name: {p.name: score_corpus(series, run.scores, p) for p in PROFILES}
               for run in runs}

    settings = (f"{len(corpus)} files ({samples:,} samples, {windows} windows) under "
                f"`{args.data}`, labels `{args.labels.name}`")
    parts = [summary_table(runs, results), "Standard profile per category:",
             category_table(runs, results, series)]
    if "alertflow" in results:
        parts.append(alertflow_detail(series, next(r for r in runs if r.name == "alertflow")))
    md = "\n\n".join(parts)
    print(f"\n{settings}\n\n{md}\n\n(total {time.monotonic() - started:.0f} s)")
    if args.record:
        today = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = command_line("bench/nab.py", argv)
        record(SECTION, f"\n### NAB scores, {today}\n\nCommand: `{command}`  \n"
               f"Machine: {machine('river', 'numpy')}  \nData: {settings}.\n\n{md}\n")
        print("appended to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
