"""Lone critical alerts of kinds that keep ending alone: ``lone_critical_streak`` by CV.

    nice .venv/bin/python -m bench.critical_cv collect --seeds 0-8 --scenarios 4 \
        --dir /tmp/critical-cv
    .venv/bin/python -m bench.critical_cv evaluate --dir /tmp/critical-cv --seeds 0-8

A critical alert pages at once. One whose kind (alertname) fired and ended alone, with no
anomaly corroborating it, ``lone_critical_streak`` episodes in a row in its domain is a
noise digest line instead, unless anomalies corroborate it or it is still firing
``record_after_s`` into its episode (``operators.correlation.lifecycle``). The rule is
online (each domain learns from its own history), so unlike ``bench/noise_cv.py`` it is not
replayed offline: ``collect`` simulates the scenarios of ``bench/correlation.py
--situations`` (same seeds, same draws) once and runs ``alertflow run`` on each with every
candidate (None: off), scoring each exactly as the bench does. ``evaluate`` chooses by
leave-one-seed-out: each fold picks, on the other seeds, the candidate with the highest
pooled noise reduction counting every record among those that lose no pooled top-1, top-3,
announced rate or F1 against off (ties: the larger streak, the one that pages more), and
scores it on the left-out seed; beside it, the in-sample pick on all seeds.
Held-out seeds (>= 9000) are never collected here.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import correlation as bc
from bench.noise_cv import figures, pooled_over
from bench.rank_cv import _seeds, fresh_scenarios

STREAKS: tuple[int | None, ...] = (None, 1, 2, 3)
_KEYS = ("nr_records", "nr_announced", "f1", "top1", "top3", "announced")


def _score(inp: Path, out: Path) -> bc.Score:
    """One run's pooled score, as ``bench/correlation.py`` scores a scenario."""
    truth = json.loads((inp / "ground_truth.json").read_text())
    alerts, payloads = bc.read_alerts((inp / "alerts.jsonl").read_text().splitlines())
    records = bc.last_versions((out / "incidents.jsonl").read_text().splitlines())
    predicted = [bc.from_incident(r) for r in records if r.get("kind", "incident") == "incident"]
    notes = (out / "notifications.jsonl").read_text().splitlines()
    shown = {n["incident_id"] for n in map(json.loads, notes) if n["kind"] == "incident_opened"}
    return bc.score(truth, len(alerts), predicted, shown, payloads, len(records))


def collect(seed: int, scenarios: int, root: Path) -> None:
    """Simulate one seed's scenarios and run each under every candidate streak."""
    for work, inp, out, args in fresh_scenarios(seed, scenarios, root, []):
        scores: dict[int | None, bc.Score] = {}
        for streak in STREAKS:
            run_out = out.with_name(f"out-{streak}")
            argv = [a if a != str(out) else str(run_out) for a in args]
            value = "null" if streak is None else str(streak)
            argv += ["--set", f"correlation.lone_critical_streak={value}"]
            proc = subprocess.run(
                [sys.executable, "-m", "alertflow.dataflows.cli", *argv],
                capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode:
                raise RuntimeError(f"alertflow run failed: {proc.stderr[-3000:]}")
            scores[streak] = _score(inp, run_out)
        (work / "scenario.pkl").write_bytes(pickle.dumps(scores))
        for name in ("metrics.jsonl", "traces.jsonl", "logs.jsonl"):
            (inp / name).unlink(missing_ok=True)


def load(root: Path, seed: int) -> dict[int | None, bc.Score]:
    """A seed's scores per candidate, pooled over its collected scenarios."""
    total: dict[int | None, bc.Score] = {k: bc.Score() for k in STREAKS}
    for path in sorted((root / f"seed{seed}").glob("s*/scenario.pkl")):
        for k, sc in pickle.loads(path.read_bytes()).items():
            total[k] = total[k] + sc
    return total


def choose(scores: dict[int | None, bc.Score]) -> int | None:
    """The highest NR every record that loses nothing against off (ties: larger streak)."""
    ref = figures(scores[None])
    ok = [
        k for k in STREAKS
        if all(figures(scores[k])[m] >= ref[m] - 1e-9 for m in ("top1", "top3", "announced", "f1"))
    ]  # fmt: skip
    return max(ok, key=lambda k: (round(figures(scores[k])["nr_records"], 9), k or 10**9))


def _row(name: str, sc: bc.Score) -> str:
    f = figures(sc)
    return f"| {name} | " + " | ".join(f"{f[k]:.3f}" for k in _KEYS) + " |"


def evaluate(root: Path, seeds: Sequence[int]) -> None:
    """Leave-one-seed-out choice of the streak, out-of-fold beside in-sample."""
    per_seed = {s: load(root, s) for s in seeds}

    def pooled(which: Sequence[int], k: int | None) -> bc.Score:
        return pooled_over(per_seed, which, k)

    print("| left out | chosen on the others | NR every record (off -> chosen) | NR announced "
          "| F1 | top-1 | top-3 | announced |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    oof, off = bc.Score(), bc.Score()
    picks = []
    for s in seeds:
        k = choose({c: pooled([o for o in seeds if o != s], c) for c in STREAKS})
        picks.append(k)
        a, b = figures(per_seed[s][None]), figures(per_seed[s][k])
        oof, off = oof + per_seed[s][k], off + per_seed[s][None]
        cells = " | ".join(f"{a[m]:.3f} -> {b[m]:.3f}" for m in _KEYS)
        print(f"| {s} | {k} | {cells} |")
    best = choose({c: pooled(seeds, c) for c in STREAKS})
    print("\n| pooled over seeds | " + " | ".join(_KEYS) + " |")
    print("|---|" + "---:|" * len(_KEYS))
    print(_row("off (before)", off))
    print(_row("out-of-fold", oof))
    print(_row(f"in-sample: streak {best}", pooled(seeds, best)))
    print("\nfolds' picks:", ", ".join(map(str, picks)))
    print("\n| streak (all seeds, pooled) | " + " | ".join(_KEYS) + " |")
    print("|---|" + "---:|" * len(_KEYS))
    for k in STREAKS:
        print(_row(str(k), pooled(seeds, k)))


def seed_cv_main(
    prog: str,
    doc: str | None,
    default_dir: Path,
    collect_one,
    evaluate_all,
    argv: Sequence[str] | None,
    keep: bool = False,
) -> int:
    """The ``collect`` / ``evaluate`` command line of a leave-one-seed-out chooser.

    ``collect_one(seed, scenarios, dir[, keep])`` runs one seed's scenarios;
    ``evaluate_all(dir, seeds)`` prints the folds. Held-out seeds (>= 9000) are refused.
    """
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("command", choices=("collect", "evaluate"))
    parser.add_argument("--seeds", default="0-8")
    parser.add_argument("--scenarios", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=default_dir)
    if keep:
        parser.add_argument("--keep", action="store_true", help="keep the simulated inputs")
    args = parser.parse_args(argv)
    seeds = _seeds(args.seeds)
    if any(s >= 9000 for s in seeds):
        parser.error("seeds >= 9000 are held out: never tuned on")
    if args.command == "collect":
        for seed in seeds:
            collect_one(seed, args.scenarios, args.dir, *((args.keep,) if keep else ()))
    else:
        evaluate_all(args.dir, seeds)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``collect`` or ``evaluate``."""
    return seed_cv_main(
        "python -m bench.critical_cv", __doc__, Path("/tmp/critical-cv"), collect, evaluate, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
