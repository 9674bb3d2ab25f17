"""Detection defaults chosen by cross-validation over every labelled development dataset.

Run from the repository root::

    .venv/bin/python bench/nab_cv.py            # NAB dev subset + ops (cloud monitoring)
    .venv/bin/python bench/nab_cv.py --no-peers # skip River HST and the windowed Gaussian
    .venv/bin/python bench/nab_cv.py --record   # also write the tables to BENCHMARKS.md
    .venv/bin/python bench/nab_cv.py --jobs 2 --ablate peak_recall  # what it adds, per fold
    .venv/bin/python bench/nab_cv.py --objective fixed  # choose at one threshold for all

Protocol (the one BENCHMARKS.md records):

- Candidates: the detector's shipped defaults with each combination of the settings in
  ``GRID`` changed (every candidate is scored on every file once, in-process, through the
  same ``update_many`` path as ``alertflow detect``).
- The objective on a set of training files: the mean over the datasets they come from of
  each dataset's NAB standard score on its training files, at that part's own best
  threshold (NAB's sweep). Datasets weigh the same whatever their size. With
  ``--objective fixed`` every training dataset is scored at one threshold instead, the one
  that maximises that mean (a user runs one ``scoring.threshold`` on every series).
- Folds: leave one dataset out ({nab, ops}), then leave one category out inside each
  dataset (training on every other file of both datasets). Per fold the candidate with the
  best training objective is scored on the held-out files: *out-of-fold* at the held-out
  files' own swept threshold (how NAB, and the unseen-data check, score a corpus), and
  *carried* at the one threshold chosen on the training files (the mean over their
  datasets at one threshold, as ``--objective fixed``), and *fixed* at the product's
  ``scoring.threshold``: what a user with one threshold gets. *In-sample* is the shipped
  default's score on the same files, swept, carried and fixed alike.
- A change of the shipped defaults counts only if it raises the out-of-fold scores across
  folds, not one file or category.
"""

import argparse
import datetime as dt
import itertools
import math
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertflow.schemas.config import DetectorSettings, ScoringConfig

from bench.detection_data import DATASETS, Dataset, Part, detect, load_all, part
from bench.nab import _finite_only, hst_scores, windowed_gaussian_scores
from bench.nab_scoring import PROFILES, STANDARD, null_score, perfect_score, threshold_curve
from bench.report import command_line, machine, record

SECTION = "## Detection defaults by cross-validation"
# What cross-validation may change; each is a capability that 0 switches off, or (warmup)
# a count of samples.
GRID: dict[str, tuple[float, ...]] = {
    "lik_span_s": (0.0, 1800.0, 3000.0),
    "sup_tau_s": (0.0, 52500.0),
    "grain_frac": (0.0, 1.0),
    "warmup": (150.0, 100.0),
    "range_mature": (0.0, 1000.0),
    "seas_recall": (0.0, 0.8, 1.0),
    "sup_quiet_s": (0.0, 3600.0, 10800.0),
    "peak_recall": (0.0, 1.0),
    "seas_shift_s": (0.0, 3600.0),
}
# Not in GRID (each doubles the run; cross-validation never chose them, notes detect8):
# ``stuck_weight`` and ``drift_weight`` (0 = off). Measure one with, e.g.,
# ``--grid "<the reduced grid>,stuck_weight=0/1" --ablate stuck_weight``.
# ``--small``: the capabilities that matter most, each only on or off (128 candidates, for
# exploring on a shared machine; not for figures).
SMALL_GRID: dict[str, tuple[float, ...]] = {
    "lik_span_s": (0.0, 3000.0),
    "rarity_period_s": (0.0, 3600.0),
    "grain_frac": (0.0, 1.0),
    "warmup": (150.0, 100.0),
    "range_mature": (0.0, 1000.0),
    "seas_recall": (0.0, 1.0),
    "sup_quiet_s": (0.0, 10800.0),
}
# The defaults before cross-validation chose (issue 9): every capability above off.
# Settings a grid leaves out stay at the shipped defaults, except that the "before"
# candidate (added when a grid lacks it) has these too: capabilities that left the GRID
# once cross-validation shipped them on (lik_short_s) are off in it as well.
BEFORE = {name: 0.0 for name in GRID} | {"warmup": 150.0, "rarity_period_s": 0.0,
                                         "lik_short_s": 0.0}
# The thresholds one fixed threshold is chosen from (scores are in [0, 1)): ours sit at
# 0.01-0.5, the peers' (tail probabilities) within 1e-3 of 1.
THRESHOLDS = np.concatenate([np.geomspace(0.002, 0.95, 240), 1.0 - np.geomspace(0.04, 1e-7, 60)])


@dataclass(frozen=True)
class Fold:
    """Held-out files, by dataset and (optionally) category."""

    name: str
    dataset: str
    category: str | None

    def held(self, dataset: str, category: str) -> bool:
        return dataset == self.dataset and self.category in (None, category)


def candidates(grid: dict[str, tuple[float, ...]]) -> list[dict[str, float]]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def label(overrides: dict[str, float]) -> str:
    shipped = DetectorSettings().model_dump()
    changed = [f"{k}={v:g}" for k, v in overrides.items() if shipped[k] != v]
    return ", ".join(changed) or "shipped defaults"


def objective(datasets: Sequence[Dataset], scores: dict[str, list[np.ndarray]],
              keep: Callable[[str, str], bool]) -> float:
    """Mean over datasets of the standard score of the kept files (NaN-free parts only)."""
    values = []
    for ds in datasets:
        p = part(datasets, scores, lambda n, c, ds=ds: n == ds.name and keep(n, c))
        if p.series and math.isfinite(value := p.best(STANDARD)[0]):
            values.append(value)
    return float(np.mean(values)) if values else math.nan


def folds(datasets: Sequence[Dataset]) -> list[Fold]:
    out = [Fold(f"dataset {ds.name}", ds.name, None) for ds in datasets] if len(datasets) > 1 \
        else []
    for ds in datasets:
        out.extend(Fold(f"{ds.name}/{c}", ds.name, c) for c in sorted(set(ds.categories)))
    return out


# Per part: its swept standard score and its standard score at each of THRESHOLDS.
Components = dict[tuple[str, str | None], tuple[float, np.ndarray]]


def swept_and_fixed(p: Part) -> tuple[float, np.ndarray]:
    """``p``'s standard score at its own best threshold and at each of ``THRESHOLDS``.

    One sweep serves both (the components step sweeps every part of every candidate).
    """
    thresholds, raws = threshold_curve(p.series, p.scores, STANDARD)
    null = sum(null_score(s, STANDARD) for s in p.series)
    perfect = sum(perfect_score(s, STANDARD) for s in p.series)
    if perfect == null:
        return math.nan, np.full(THRESHOLDS.size, math.nan)
    # thresholds descend from inf: at t, every row scoring >= t is detected.
    at = np.searchsorted(-thresholds, -THRESHOLDS, side="right") - 1
    scale = 100.0 / (perfect - null)
    return float((raws.max() - null) * scale), (raws[at] - null) * scale


def fixed_curve(p: Part) -> np.ndarray:
    """``p``'s normalised standard score at each of ``THRESHOLDS`` (one sweep, not 300)."""
    return swept_and_fixed(p)[1]


def components(datasets: Sequence[Dataset], run: dict[str, list[np.ndarray]]) -> Components:
    """Each dataset's standard score on all its files (key ``(name, None)``) and without
    each category (``(name, category)``): every training objective is a mean of these."""
    out: Components = {}
    for ds in datasets:
        for cat in [None, *sorted(set(ds.categories))]:
            p = part(datasets, run, lambda n, c, ds=ds, cat=cat: n == ds.name and c != cat)
            out[(ds.name, cat)] = (swept_and_fixed(p) if p.series
                                   else (math.nan, np.full(THRESHOLDS.size, math.nan)))
    return out


def train_objective(datasets: Sequence[Dataset], comps: Components, fold: Fold,
                    fixed: bool = False) -> tuple[float, float]:
    """``(objective, threshold)`` on the files ``fold`` does not hold out.

    Swept: the mean of each training dataset's score at its own best threshold (the
    threshold returned is NaN). Fixed: the best mean at one threshold for all of them.
    """
    swept, curves = [], []
    for ds in datasets:
        if ds.name == fold.dataset and fold.category is None:
            continue  # the whole dataset is held out
        value, curve = comps[(ds.name, fold.category if ds.name == fold.dataset else None)]
        if math.isfinite(value):
            swept.append(value)
            curves.append(curve)
    if not swept:
        return math.nan, math.nan
    mean = np.mean(curves, axis=0)
    k = int(np.argmax(mean))
    if fixed:
        return float(mean[k]), float(THRESHOLDS[k])
    return float(np.mean(swept)), float(THRESHOLDS[k])


def cross_validate(datasets: Sequence[Dataset], runs: list[dict[str, list[np.ndarray]]],
                   shipped: int, before: int, comps: list[Components],
                   fixed: bool = False) -> list[dict]:
    product = ScoringConfig().threshold
    rows = []
    for fold in folds(datasets):
        def test(n: str, c: str, fold: Fold = fold) -> bool:
            return fold.held(n, c)

        trained = [train_objective(datasets, comp, fold, fixed) for comp in comps]
        chosen = int(np.nanargmax([gain for gain, _ in trained]))
        held: Part = part(datasets, runs[chosen], test)
        if not any(len(w) for s in held.series for w in [s.scored_windows]):
            continue  # nothing to find (artificialNoAnomaly): no score, only FPs
        ours: Part = part(datasets, runs[shipped], test)
        own = train_objective(datasets, comps[shipped], fold, fixed=True)[1]
        carried = train_objective(datasets, comps[chosen], fold, fixed=True)[1]
        rows.append({
            "fold": fold.name,
            "chosen": chosen,
            "train": trained[chosen][0],
            "in_sample": ours.best(STANDARD)[0],
            "in_sample_carried": ours.at(own, STANDARD),
            "in_sample_fixed": ours.at(product, STANDARD),
            "before": part(datasets, runs[before], test).best(STANDARD)[0],
            "out_of_fold": held.best(STANDARD)[0],
            "threshold": carried,
            "carried": held.at(carried, STANDARD),
            "fixed": held.at(product, STANDARD),
        })
    return rows


def peer_scores(datasets: Sequence[Dataset], seed: int) -> dict[str, dict[str, list]]:
    hst = {ds.name: [_finite_only(f.values, lambda v: hst_scores(v, 25, 8, 250, seed))
                     for f in ds.files] for ds in datasets}
    gauss = {ds.name: [_finite_only(f.values, windowed_gaussian_scores) for f in ds.files]
             for ds in datasets}
    return {"River HST": hst, "windowed Gaussian": gauss}


def dataset_table(datasets: Sequence[Dataset], detectors: dict[str, dict]) -> str:
    names = list(detectors)
    rows = ["| dataset | category | files | " + " | ".join(names) + " |",
            "|" + "---|" * (len(names) + 3)]
    for ds in datasets:
        groups = [(None, "all")] + [(c, c) for c in sorted(set(ds.categories))]
        for cat, shown in groups:
            files = sum(1 for c in ds.categories if cat in (None, c))
            cells = []
            for name in names:
                p = part(datasets, detectors[name],
                         lambda n, c, ds=ds, cat=cat: n == ds.name and cat in (None, c))
                value = p.best(STANDARD)[0]
                cells.append("—" if math.isnan(value) else f"{value:.1f}")
            rows.append(f"| {ds.name} | {shown} | {files} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def profile_table(datasets: Sequence[Dataset], detectors: dict[str, dict]) -> str:
    rows = ["| dataset | detector | " + " | ".join(p.name for p in PROFILES) + " |",
            "|" + "---|" * (len(PROFILES) + 2)]
    for ds in datasets:
        for name, scores in detectors.items():
            p = part(datasets, scores, lambda n, c, ds=ds: n == ds.name)
            rows.append(f"| {ds.name} | {name} | "
                        + " | ".join(f"{p.best(prof)[0]:.1f}" for prof in PROFILES) + " |")
    return "\n".join(rows)


def threshold_table(datasets: Sequence[Dataset], scores: dict[str, list]) -> str:
    """How the best threshold varies, and what one pooled or the product's threshold costs."""
    pooled = part(datasets, scores, lambda n, c: True).best(STANDARD)[1]
    curves = [fixed_curve(part(datasets, scores, lambda n, c, ds=ds: n == ds.name))
              for ds in datasets]
    one = float(THRESHOLDS[int(np.nanargmax(np.nanmean(curves, axis=0)))])
    product = ScoringConfig().threshold
    rows = [f"Pooled threshold over every file: ≥{pooled:.4g}; one threshold for every "
            f"dataset (their mean score at it is best): ≥{one:.4g}; the product's "
            f"`scoring.threshold`: ≥{product:g}.", "",
            "| dataset | category | best threshold | score there | score at pooled "
            "| score at one threshold | score at scoring.threshold |",
            "|---|---|---|---|---|---|---|"]
    for ds in datasets:
        for cat in [None, *sorted(set(ds.categories))]:
            p = part(datasets, scores,
                     lambda n, c, ds=ds, cat=cat: n == ds.name and cat in (None, c))
            best, threshold = p.best(STANDARD)
            if math.isnan(best):
                continue
            rows.append(f"| {ds.name} | {cat or 'all'} | {threshold:.4g} | {best:.1f} | "
                        f"{p.at(pooled, STANDARD):.1f} | {p.at(one, STANDARD):.1f} | "
                        f"{p.at(product, STANDARD):.1f} |")
    return "\n".join(rows)


def _shown(threshold: float) -> str:
    """A threshold near 1 as ``1-1e-05``: 0.99999 and 0.999999 both print as 1 otherwise."""
    return f"{threshold:.3g}" if threshold < 0.99 else f"1-{1.0 - threshold:.2g}"


def fixed_table(datasets: Sequence[Dataset], detectors: dict[str, dict]) -> str:
    """Per detector and dataset: swept, at one threshold for every dataset, and at the
    threshold the other datasets choose (carried), so peers are judged as ours are."""
    rows = ["| dataset | detector | swept | one threshold for all | that threshold | "
            "carried from the other datasets | that threshold |", "|---" * 7 + "|"]
    for name, scores in detectors.items():
        curves = {ds.name: fixed_curve(part(datasets, scores, lambda n, c, ds=ds: n == ds.name))
                  for ds in datasets}
        one = int(np.nanargmax(np.nanmean(list(curves.values()), axis=0)))
        for ds in datasets:
            others = [c for k, c in curves.items() if k != ds.name]
            carried = int(np.nanargmax(np.nanmean(others, axis=0))) if others else one
            p = part(datasets, scores, lambda n, c, ds=ds: n == ds.name)
            rows.append(f"| {ds.name} | {name} | {p.best(STANDARD)[0]:.1f} | "
                        f"{curves[ds.name][one]:.1f} | {_shown(THRESHOLDS[one])} | "
                        f"{curves[ds.name][carried]:.1f} | {_shown(THRESHOLDS[carried])} |")
    return "\n".join(rows)


def cv_table(rows: list[dict], grid: list[dict[str, float]]) -> str:
    product = ScoringConfig().threshold
    out = ["| held-out fold | chosen on the rest | training objective | defaults before "
           "(in-sample) | shipped (in-sample) | out-of-fold | shipped, carried (in-sample) | "
           "carried threshold | out-of-fold, carried | shipped at "
           f"{product:g} (in-sample) | out-of-fold at {product:g} |", "|---" * 11 + "|"]
    for r in rows:
        out.append(f"| {r['fold']} | {label(grid[r['chosen']])} | {r['train']:.1f} | "
                   f"{r['before']:.1f} | {r['in_sample']:.1f} | {r['out_of_fold']:.1f} | "
                   f"{r['in_sample_carried']:.1f} | {r['threshold']:.3g} | "
                   f"{r['carried']:.1f} | {r['in_sample_fixed']:.1f} | {r['fixed']:.1f} |")
    return "\n".join(out)


def ablation_table(without: list[dict], with_: list[dict], grid: list[dict[str, float]],
                   sub: list[int]) -> str:
    """Per fold, out-of-fold without the ablated capabilities beside with them."""
    out = ["| held-out fold | shipped (in-sample) | chosen without | out-of-fold without "
           "| chosen with | out-of-fold with | Δ |", "|---|---|---|---|---|---|---|"]
    for a, b in zip(without, with_, strict=True):
        out.append(f"| {b['fold']} | {b['in_sample']:.1f} | {label(grid[sub[a['chosen']]])} | "
                   f"{a['out_of_fold']:.1f} | {label(grid[b['chosen']])} | "
                   f"{b['out_of_fold']:.1f} | {b['out_of_fold'] - a['out_of_fold']:+.1f} |")
    out.extend(_fold_changes(without, with_))
    return "\n".join(out)


def objective_table(swept: list[dict], fixed: list[dict], grid: list[dict[str, float]]) -> str:
    """Per fold, the candidate chosen at each dataset's own threshold beside the one chosen
    at one threshold for all, each out-of-fold swept / carried / at scoring.threshold."""
    out = ["| held-out fold | chosen (swept objective) | OOF swept / carried / fixed | "
           "chosen (fixed objective) | OOF swept / carried / fixed | Δ carried | Δ fixed |",
           "|---" * 7 + "|"]
    for a, b in zip(swept, fixed, strict=True):
        out.append(f"| {b['fold']} | {label(grid[a['chosen']])} | {a['out_of_fold']:.1f} / "
                   f"{a['carried']:.1f} / {a['fixed']:.1f} | {label(grid[b['chosen']])} | "
                   f"{b['out_of_fold']:.1f} / {b['carried']:.1f} / {b['fixed']:.1f} | "
                   f"{b['carried'] - a['carried']:+.1f} | {b['fixed'] - a['fixed']:+.1f} |")
    out.extend(_fold_changes(swept, fixed))
    return "\n".join(out)


def _fold_changes(before: list[dict], after: list[dict]) -> list[str]:
    """Per figure, how many folds rose and fell from ``before`` to ``after``, and the sum."""
    lines = []
    for key in ("out_of_fold", "carried", "fixed"):
        gains = [b[key] - a[key] for a, b in zip(before, after, strict=True)]
        lines.append(f"\n{key}: folds raised {sum(g > 0.05 for g in gains)}, lowered "
                     f"{sum(g < -0.05 for g in gains)}, summed change {sum(gains):+.1f}.")
    return lines


def parse_grid(text: str) -> dict[str, tuple[float, ...]]:
    """``name=v1/v2,name=v1/v2`` as a grid."""
    grid = {}
    for item in text.split(","):
        name, _, values = item.partition("=")
        grid[name.strip()] = tuple(float(v) for v in values.split("/"))
    return grid


_LOADED: list[Dataset] = []  # what forked workers read (inherited, not pickled per task)
_RUNS: list[dict[str, list[np.ndarray]]] = []


def _score(overrides: dict[str, float]) -> dict[str, list[np.ndarray]]:
    return {ds.name: detect(ds, overrides) for ds in _LOADED}


def _components(index: int) -> Components:
    return components(_LOADED, _RUNS[index])


def all_components(datasets: list[Dataset], runs: list[dict[str, list[np.ndarray]]],
                   jobs: int) -> list[Components]:
    """``components`` of every candidate, in ``jobs`` forked processes."""
    _LOADED[:] = datasets
    _RUNS[:] = runs
    if jobs <= 1:
        return [_components(i) for i in range(len(runs))]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_components, range(len(runs)), chunksize=8))


def score_all(datasets: list[Dataset], grid: list[dict[str, float]],
              jobs: int) -> list[dict[str, list[np.ndarray]]]:
    """Every candidate's scores on every file, in ``jobs`` forked processes."""
    _LOADED[:] = datasets
    if jobs <= 1:
        return [_score(c) for c in grid]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_score, grid, chunksize=4))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python bench/nab_cv.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated, from {','.join(DATASETS)}")
    parser.add_argument("--no-peers", action="store_true", help="skip River HST and Gaussian")
    parser.add_argument("--seed", type=int, default=42, help="River HST's seed")
    parser.add_argument("--record", action="store_true", help="write the tables to BENCHMARKS.md")
    parser.add_argument("--small", action="store_true",
                        help="SMALL_GRID, 128 candidates, for exploring (not for figures)")
    parser.add_argument("--grid", default="",
                        help="the grid itself, e.g. 'lik_span_s=0/3000,sup_tau_s=0/52500' "
                        "(settings separated by commas, values by slashes)")
    parser.add_argument("--without", default="",
                        help="comma-separated settings to leave at the shipped defaults: what "
                        "a capability adds is the out-of-fold change with it in and out")
    parser.add_argument("--jobs", type=int, default=1, help="processes scoring candidates")
    parser.add_argument("--objective", choices=("swept", "fixed"), default="swept",
                        help="choose candidates at each dataset's own best threshold (NAB's "
                        "rule) or at one threshold for every training file")
    parser.add_argument("--ablate", default="",
                        help="comma-separated settings: also cross-validate the candidates "
                        "that leave them at the shipped defaults, and print per fold the "
                        "out-of-fold score without them beside with them (one run, not two)")
    args = parser.parse_args(argv)
    dropped = {d.strip() for d in args.without.split(",") if d.strip()}
    chosen_grid = parse_grid(args.grid) if args.grid else SMALL_GRID if args.small else GRID
    space = {k: v for k, v in chosen_grid.items() if k not in dropped}
    started = time.monotonic()
    datasets = load_all([d.strip() for d in args.datasets.split(",") if d.strip()])
    grid = candidates(space)
    if BEFORE not in grid:
        grid.append(dict(BEFORE))
    shipped_settings = DetectorSettings().model_dump()
    shipped = next(i for i, c in enumerate(grid)
                   if all(shipped_settings[k] == v for k, v in c.items()))
    before = grid.index(BEFORE)
    runs = score_all(datasets, grid, args.jobs)
    print(f"{len(grid)} candidates scored in {time.monotonic() - started:.0f} s",
          file=sys.stderr)
    comps = all_components(datasets, runs, args.jobs)
    fixed = args.objective == "fixed"
    everywhere = [train_objective(datasets, c, Fold("all", "", ""), fixed)[0] for c in comps]
    best_all = int(np.nanargmax(everywhere))
    detectors = {"alertflow (shipped)": runs[shipped],
                 "alertflow (defaults before)": runs[before]}
    if best_all != shipped:
        detectors[f"alertflow ({label(grid[best_all])})"] = runs[best_all]
    if not args.no_peers:
        detectors.update(peer_scores(datasets, args.seed))
    cv = cross_validate(datasets, runs, shipped, before, comps, fixed)
    ablated = [a.strip() for a in args.ablate.split(",") if a.strip()]
    ablation = ""
    if ablated:
        sub = [i for i, c in enumerate(grid)
               if all(c.get(k, shipped_settings[k]) == shipped_settings[k] for k in ablated)]
        cv_without = cross_validate(datasets, [runs[i] for i in sub], sub.index(shipped),
                                    sub.index(before), [comps[i] for i in sub], fixed)
        ablation = (f"Ablation: out-of-fold without {', '.join(ablated)} ({len(sub)} "
                    "candidates) and with them (all):\n\n"
                    + ablation_table(cv_without, cv, grid, sub))
    if fixed:
        ablation += ("\n\nThe objective: chosen at each dataset's own threshold (NAB's rule) "
                     "and at one threshold for all, per fold:\n\n" + objective_table(
                         cross_validate(datasets, runs, shipped, before, comps), cv, grid))
    files = sum(len(ds.files) for ds in datasets)
    md = "\n\n".join([
        f"{files} files in {', '.join(ds.name for ds in datasets)}; {len(grid)} candidates "
        f"over {', '.join(space)}; the shipped defaults set "
        + ", ".join(f"{k}={shipped_settings[k]:g}" for k in space) + ".",
        "Standard profile per dataset and category (each part at its own swept threshold):",
        dataset_table(datasets, detectors),
        "All three profiles per dataset:",
        profile_table(datasets, detectors),
        "One threshold for every series (standard profile; each detector's own thresholds):",
        fixed_table(datasets, detectors),
        "Cross-validation (standard profile):",
        cv_table(cv, grid),
        *([ablation] if ablation else []),
        f"Chosen on every file: {label(grid[best_all])} (objective {everywhere[best_all]:.1f}; "
        f"shipped {everywhere[shipped]:.1f}). Thresholds of the shipped defaults:",
        threshold_table(datasets, runs[shipped]),
    ])
    print(f"\n{md}\n\n(total {time.monotonic() - started:.0f} s)")
    if args.record:
        today = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        record(SECTION, f"\n### Cross-validated detection, {today}\n\nCommand: "
               f"`{command_line('bench/nab_cv.py', argv)}`  \nMachine: "
               f"{machine('river', 'numpy')}\n\n{md}\n")
        print("appended to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
