"""Isolation forests: NAB for the per-series detector, a synthetic fleet for the per-entity one.

Run from the repository root::

    .venv/bin/python bench/isolation.py            # print the tables
    .venv/bin/python bench/isolation.py --record   # also append them to BENCHMARKS.md

**NAB** (the dev subset ``bench/nab.py`` reads, scored by ``bench/nab_scoring.py`` for the three
profiles): ``IsolationWindowDetector`` (defaults) against River's ``HalfSpaceTrees`` behind a
``MinMaxScaler`` as River's docs recommend, default parameters (10 trees, height 8, window
250), both score-before-learn on the finite values of each file. Timing is the median of
``--repeats`` runs over the whole corpus, a fresh detector per file; ours both one value at a
time (``score_one`` + ``learn_one``, the streaming path, comparable to River's) and per file
(``update_many``); the two give identical scores (checked).

**Multivariate**: ``--entities`` services, each with 6 metrics driven by one load (rps, cpu,
latency ~ load², errors, memory, GC: per-service scales, noise ``--noise`` times a base
level), one value per metric every 30 s in 60 s windows, delivered slightly out of order
(lateness 30 s). After ``WARM`` windows, 3% of windows get a *combination* anomaly (one metric
takes the value it would have at a load at least 0.3 away, inside the usual load range, so
the metric itself looks normal) and 1% a *spike* (one metric + 6 standard deviations).
``EntityScorer`` (score >= ``--threshold``) against the per-metric view of the same windows,
the largest |robust z| (>= ``--z-threshold``), and ``EntityScorer(decorrelate=False)`` to show
what the whitening adds. Precision and recall at those fixed thresholds, and average precision
(threshold-free) per anomaly kind.
"""

import argparse
import datetime as dt
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as ``python bench/isolation.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertflow.operators.isolation import IsolationWindowDetector
from alertflow.operators.isolation.forest import IsolationForest
from alertflow.operators.multivariate import EntityScorer

from bench.nab import NAB, DataFile, hst_scores, load_corpus
from bench.nab_scoring import PROFILES, score_corpus
from bench.report import command_line, machine, record

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Isolation forest and multivariate"
S = 1_000_000_000
WARM = 150  # windows per service before any anomaly is injected or scored
METRICS = ("rps", "cpu", "latency", "errors", "memory", "gc")
BASE_NOISE = np.array([20.0, 2.0, 3.0, 0.5, 1.0, 0.3])

# --------------------------------------------------------------------------- NAB


@dataclass(frozen=True)
class NabRun:
    """One detector over the corpus: its scores, and the timings of the repeats."""

    name: str
    scores: list[np.ndarray]
    seconds_one: list[float]
    seconds_many: list[float]
    state_bytes: int
    note: str


def _finite(values: np.ndarray, detect: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    scores = np.full(values.size, np.nan)
    finite = np.isfinite(values)
    scores[finite] = detect(values[finite])
    return scores


def _one_at_a_time(values: np.ndarray, seed: int) -> np.ndarray:
    det, out = IsolationWindowDetector(seed=seed), np.empty(values.size)
    for i, value in enumerate(values.tolist()):
        out[i] = det.score_one(value, i)
        det.learn_one(value, i)
    return out


def _timed(corpus: Sequence[DataFile], detect: Callable[[np.ndarray], np.ndarray],
           repeats: int) -> tuple[list[np.ndarray], list[float]]:
    seconds, scores = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        scores = [_finite(d.values, detect) for d in corpus]
        seconds.append(time.perf_counter() - began)
    return scores, seconds


def run_isolation(corpus: Sequence[DataFile], args: argparse.Namespace) -> NabRun:
    began = time.perf_counter()
    IsolationWindowDetector().update_many(np.arange(300.0), np.arange(300))  # load the JIT
    warm = time.perf_counter() - began
    many, seconds_many = _timed(
        corpus, lambda v: IsolationWindowDetector(seed=args.seed).update_many(v, np.arange(v.size)),
        args.repeats)
    one, seconds_one = _timed(corpus, lambda v: _one_at_a_time(v, args.seed), args.repeats)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)  # the batch path is the streaming path, faster
    longest = max(corpus, key=lambda d: d.values.size)
    det = IsolationWindowDetector(seed=args.seed)
    det.update_many(longest.values, np.arange(longest.values.size))
    engine = "numba" if IsolationForest.use_jit else "numpy"
    note = (f"defaults (16 trees, window 256, sample 128), {engine} kernels; first call in the "
            f"process (JIT load) {warm:.2f} s, not timed")
    return NabRun("IsolationWindowDetector", many, seconds_one, seconds_many,
                  len(pickle.dumps(det)), note)


def run_hst(corpus: Sequence[DataFile], args: argparse.Namespace) -> NabRun:
    scores, seconds = _timed(corpus, lambda v: hst_scores(v, 10, 8, 250, args.seed),
                             args.repeats)
    from river import anomaly, compose, preprocessing

    model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=args.seed))
    for value in max(corpus, key=lambda d: d.values.size).values.tolist():
        model.score_one({"value": value})
        model.learn_one({"value": value})
    note = "River, MinMaxScaler then HalfSpaceTrees(n_trees=10, height=8, window_size=250)"
    return NabRun("HalfSpaceTrees", scores, seconds, [], len(pickle.dumps(model)), note)


def nab_table(corpus: Sequence[DataFile], runs: Sequence[NabRun]) -> str:
    series = [d.series for d in corpus]
    samples = sum(int(np.isfinite(d.values).sum()) for d in corpus)
    head = ("| detector | " + " | ".join(p.name for p in PROFILES)
            + " | µs/sample, one at a time | µs/sample, per file (update_many) "
              "| state after the longest file | note |")
    rows = [head, "|" + "---|" * (len(PROFILES) + 5)]
    for run in runs:
        cells = [f"{score_corpus(series, run.scores, p).normalised:.1f}" for p in PROFILES]
        one = f"{1e6 * statistics.median(run.seconds_one) / samples:.1f}"
        many = (f"{1e6 * statistics.median(run.seconds_many) / samples:.1f}"
                if run.seconds_many else "—")
        rows.append(f"| {run.name} | " + " | ".join(cells)
                    + f" | {one} | {many} | {run.state_bytes / 1024:.0f} KiB | {run.note} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------- multivariate


@dataclass(frozen=True)
class Service:
    """One synthetic service: its windows' metric values and what was injected where."""

    values: np.ndarray  # (windows, 6)
    kind: np.ndarray  # per window: 0 normal, 1 combination, 2 spike


def _metrics(load: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.stack([1000 * load, 80 * load, 50 + 100 * load**2, 2 + 5 * load, 40 + 10 * load,
                     5 * load], axis=-1) * scale


def make_service(rng: np.random.Generator, windows: int, noise: float) -> Service:
    t = np.arange(windows)
    wave = 0.2 * np.sin(2 * np.pi * t / 240 + rng.uniform(0, 2 * np.pi))
    load = np.clip(0.5 + wave + rng.normal(0, 0.15, windows), 0.05, 1.0)
    scale = rng.uniform(0.5, 2.0, len(METRICS))
    sd = BASE_NOISE * scale * noise
    values = _metrics(load, scale) + rng.normal(size=(windows, len(METRICS))) * sd
    kind = np.zeros(windows, dtype=np.int64)
    for i in range(WARM, windows):
        draw, metric = rng.random(), int(rng.integers(len(METRICS)))
        if draw < 0.03:
            low, high = np.quantile(load[:i], [0.05, 0.95])
            other = np.linspace(low, high, 50)
            other = other[np.abs(other - load[i]) > 0.3]
            if other.size:
                values[i, metric] = (_metrics(rng.choice(other), scale)[metric]
                                     + rng.normal() * sd[metric])
                kind[i] = 1
        elif draw < 0.04:
            values[i, metric] += 6 * values[:i, metric].std()
            kind[i] = 2
    return Service(values, kind)


def replay(service: Service, scorer: EntityScorer, rng: np.random.Generator) -> list:
    """Two samples per metric per window, 30 s apart with jitter, arriving out of order."""
    windows = service.values.shape[0]
    stamps = (np.arange(windows)[:, None, None] * 60
              + np.array([0, 30])[None, None, :]
              + rng.integers(0, 30, (windows, len(METRICS), 2))) * S
    metric = np.broadcast_to(np.arange(len(METRICS))[None, :, None], stamps.shape).ravel()
    window = np.broadcast_to(np.arange(windows)[:, None, None], stamps.shape).ravel()
    stamps = stamps.ravel()
    arrival = np.argsort(stamps + rng.integers(0, 20 * S, stamps.size), kind="stable")
    out = []
    for i in arrival.tolist():
        value = service.values[window[i], metric[i]] * (1 + rng.normal(0, 1e-3))
        out += scorer.add(METRICS[metric[i]], float(value), int(stamps[i]))
    return out + scorer.flush()


def average_precision(score: np.ndarray, positive: np.ndarray) -> float:
    order = np.argsort(-score, kind="stable")
    hits = positive[order]
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def multivariate(args: argparse.Namespace) -> tuple[str, str]:
    rng = np.random.default_rng(args.seed)
    services = [make_service(rng, args.windows, args.noise) for _ in range(args.entities)]
    results: dict[str, list[np.ndarray]] = {"scorer": [], "zmax": [], "plain": []}
    seconds, state = 0.0, 0
    for e, service in enumerate(services):
        scorer = EntityScorer(f"service=s{e}", window_s=60, lateness_s=30, seed=e)
        replay_rng = np.random.default_rng([args.seed, e])
        began = time.perf_counter()
        out = replay(service, scorer, replay_rng)
        seconds += time.perf_counter() - began
        state = max(state, len(pickle.dumps(scorer)))
        if len(out) != args.windows:
            raise SystemExit(f"service {e}: expected {args.windows} windows, got {len(out)}")
        plain = EntityScorer(f"service=s{e}", window_s=60, lateness_s=30, decorrelate=False,
                             seed=e)
        results["scorer"].append(np.array([o.score for o in out]))
        results["zmax"].append(np.array([max(o.z.values()) for o in out]))
        results["plain"].append(np.array([o.score for o in replay(
            service, plain, np.random.default_rng([args.seed, e]))]))
    kind = np.concatenate([s.kind[WARM:] for s in services])
    rows = [
        ("EntityScorer (isolation forest on whitened robust z)", "scorer", args.threshold),
        ("max per-metric robust z, absolute (same windows)", "zmax", args.z_threshold),
        ("EntityScorer(decorrelate=False)", "plain", args.threshold),
    ]
    table = ["| detector | threshold | precision | recall, combination | recall, spike "
             "| false-positive rate | AP, combination | AP, spike |", "|" + "---|" * 8]
    for label, key, threshold in rows:
        score = np.concatenate([r[WARM:] for r in results[key]])
        flagged, normal = score >= threshold, kind == 0
        precision = (flagged & ~normal).sum() / max(flagged.sum(), 1)
        recall = [(flagged & (kind == k)).sum() / max((kind == k).sum(), 1) for k in (1, 2)]
        ap = [average_precision(score[(kind == 0) | (kind == k)],
                                (kind[(kind == 0) | (kind == k)] == k).astype(float))
              for k in (1, 2)]
        table.append(f"| {label} | ≥ {threshold:g} | {precision:.3f} | {recall[0]:.3f} | "
                     f"{recall[1]:.3f} | {(flagged & normal).sum() / normal.sum():.4f} | "
                     f"{ap[0]:.3f} | {ap[1]:.3f} |")
    samples = args.entities * args.windows * len(METRICS) * 2
    counts = {k: int((kind == k).sum()) for k in (0, 1, 2)}
    settings = (f"{args.entities} services, {len(METRICS)} metrics each, {args.windows} "
                f"windows of 60 s ({samples:,} samples), noise level {args.noise}; scored "
                f"after {WARM} windows: "
                f"{counts[0]:,} normal, {counts[1]} combination, {counts[2]} spike windows. "
                f"EntityScorer: {1e6 * seconds / samples:.1f} µs per sample "
                f"({1e3 * seconds / (args.entities * args.windows):.2f} ms per window, "
                f"alignment included), {state / 1024:.0f} KiB pickled state per service.")
    return settings, "\n".join(table)


# --------------------------------------------------------------------------- main



def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python bench/isolation.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=NAB / "data")
    parser.add_argument("--labels", type=Path, default=NAB / "combined_windows.json")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs (median)")
    parser.add_argument("--entities", type=int, default=50)
    parser.add_argument("--windows", type=int, default=500)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--threshold", type=float, default=0.65)
    parser.add_argument("--z-threshold", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--record", action="store_true", help="append the tables to BENCHMARKS.md")
    args = parser.parse_args(argv)

    started = time.monotonic()
    corpus = load_corpus(args.data, args.labels)
    samples = sum(int(np.isfinite(d.values).sum()) for d in corpus)
    runs = [run_isolation(corpus, args), run_hst(corpus, args)]
    print(f"NAB: {time.monotonic() - started:.0f} s", file=sys.stderr)
    nab = nab_table(corpus, runs)
    settings, fleet = multivariate(args)
    nab_settings = (f"{len(corpus)} files ({samples:,} finite samples) under `{args.data}`; "
                    f"normalised NAB scores, one corpus threshold per profile; timings are the "
                    f"median of {args.repeats} runs")
    md = (f"NAB dev subset: {nab_settings}.\n\n{nab}\n\n"
          f"Multivariate, synthetic: {settings}\n\n{fleet}")
    print(f"\n{md}\n\n(total {time.monotonic() - started:.0f} s)")
    if args.record:
        today = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = command_line("bench/isolation.py", argv)
        record(SECTION, f"\n### Isolation forests, {today}\n\nCommand: `{command}`  \n"
               f"Machine: {machine('river', 'numpy', 'numba')}  \n\n{md}\n")
        print("appended to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
