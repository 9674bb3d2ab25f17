"""Noise records left: ``one_off_alerts`` and ``noise_digest_scope`` by CV.

    nice .venv/bin/python -m bench.one_off_cv collect --seeds 0-4 --scenarios 4 --dir /tmp/one-off
    nice .venv/bin/python -m bench.one_off_cv collect --seeds 5-8 --scenarios 4 --dir /tmp/one-off
    .venv/bin/python -m bench.one_off_cv evaluate --dir /tmp/one-off --seeds 0-8

``lone_critical_streak`` holds back a lone critical alert only once its kind has history in
its domain, so the first alert of every kind pages (nr4, nr5: on the dev seeds most of the
critical noise pages are first of their kind). ``one_off_alerts`` reads what the alert says
about itself instead: a rule whose name reports a one-off event already over (a container
OOM-killed once, a pod restarted) is held back from its first episode, a noise digest line
unless anomalies corroborate it or it is still firing ``record_after_s`` into its episode.
``noise_digest_scope`` "estate" folds every cluster's noise digest of a window into one
record (digests were a quarter of the records: one per cluster and day).

``collect`` simulates the scenarios of ``bench/correlation.py --situations`` (same seeds,
same draws), keeps their inputs (``--keep``: to rerun other candidates later), and runs
``alertflow run`` on each with every candidate, scoring each exactly as the bench does
(``bench.critical_cv._score``); a candidate already scored is not run again. ``evaluate``
chooses by leave-one-seed-out with critical_cv's rule: each fold picks, on the other seeds,
the candidate with the highest pooled noise reduction counting every record among those
that lose no pooled top-1, top-3, announced rate or F1 against off (ties: the one listed
first, with fewer changes), and scores it on the left-out seed; beside it, the in-sample
pick on all seeds. The folds must agree for a default to ship. Held-out seeds (>= 9000) are
never collected here.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import correlation as bc
from bench.critical_cv import _score, seed_cv_main
from bench.noise_cv import figures, pooled_over
from bench.rank_cv import fresh_scenarios

# The one-off pattern: rules that report an event already over, whatever their severity
# says (kube-state-metrics' last terminated reason, a restart).
ONE_OFF = "correlation.one_off_alerts=(?i)oomkill|once$|restarted"
ESTATE = "correlation.noise_digest_scope=estate"
OFF = ("correlation.one_off_alerts=null", "correlation.noise_digest_scope=domain")
# name -> its settings over OFF's. Candidates listed first win ties (the fewer changes).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "off": (),
    "one-off": (ONE_OFF,),
    "estate": (ESTATE,),
    "one-off+estate": (ONE_OFF, ESTATE),
}
_KEYS = ("nr_records", "nr_announced", "f1", "top1", "top3", "announced")


def _args(inp: Path, out: Path) -> list[str]:
    args = ["run", "--output", str(out)]
    for name in ("alerts", "traces", "metrics"):
        args += ["--input", f"{name}={inp / (name + '.jsonl')}"]
    for setting in bc.REPLAY_SETTINGS:
        args += ["--set", setting]
    return args


def _run(work: Path, name: str) -> None:
    """Run one candidate on a scenario's inputs; its score beside them."""
    inp, out = work / "in", work / f"out-{name}"
    argv = _args(inp, out)
    for setting in (*OFF, *CANDIDATES[name]):
        argv += ["--set", setting]
    proc = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *argv], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"alertflow run failed: {proc.stderr[-3000:]}")
    (work / f"score-{name}.pkl").write_bytes(pickle.dumps(_score(inp, out)))


def collect(seed: int, scenarios: int, root: Path, keep: bool) -> None:
    """Simulate one seed's scenarios (unless kept) and score each under every candidate."""
    for work, *_ in fresh_scenarios(seed, scenarios, root, []):
        (work / "scenario.pkl").write_bytes(b"simulated")  # inputs in work/in
    for work in sorted((root / f"seed{seed}").glob("s*/")):
        for name in CANDIDATES:
            if not (work / f"score-{name}.pkl").exists():
                _run(work, name)
        if not keep:
            for name in ("metrics.jsonl", "traces.jsonl", "logs.jsonl"):
                (work / "in" / name).unlink(missing_ok=True)


def load(root: Path, seed: int) -> dict[str, bc.Score]:
    """A seed's scores per candidate, pooled over its collected scenarios."""
    total = {k: bc.Score() for k in CANDIDATES}
    for work in sorted((root / f"seed{seed}").glob("s*/")):
        for k in CANDIDATES:
            total[k] = total[k] + pickle.loads((work / f"score-{k}.pkl").read_bytes())
    return total


def choose(scores: dict[str, bc.Score]) -> str:
    """The highest NR every record that loses nothing against off (ties: the earlier listed)."""
    ref = figures(scores["off"])
    ok = [
        k for k in CANDIDATES
        if all(figures(scores[k])[m] >= ref[m] - 1e-9 for m in ("top1", "top3", "announced", "f1"))
    ]  # fmt: skip
    order = list(CANDIDATES)
    return max(ok, key=lambda k: (round(figures(scores[k])["nr_records"], 9), -order.index(k)))


def _row(name: str, sc: bc.Score) -> str:
    f = figures(sc)
    cells = " | ".join(f"{f[k]:.3f}" for k in _KEYS)
    return f"| {name} | {cells} | {sc.records_out} | {sc.alerts_in} |"


def evaluate(root: Path, seeds: Sequence[int]) -> None:
    """Leave-one-seed-out choice, out-of-fold beside in-sample."""
    per_seed = {s: load(root, s) for s in seeds}
    print("| left out | chosen on the others | " + " | ".join(f"{k} (off -> chosen)" for k in _KEYS)
          + " | records |")  # fmt: skip
    print("|---|---|" + "---|" * (len(_KEYS) + 1))
    oof, off = bc.Score(), bc.Score()
    picks = []
    for s in seeds:
        k = choose({c: pooled_over(per_seed, [o for o in seeds if o != s], c) for c in CANDIDATES})
        picks.append(k)
        a, b = figures(per_seed[s]["off"]), figures(per_seed[s][k])
        oof, off = oof + per_seed[s][k], off + per_seed[s]["off"]
        cells = " | ".join(f"{a[m]:.3f} -> {b[m]:.3f}" for m in _KEYS)
        records = f"{per_seed[s]['off'].records_out} -> {per_seed[s][k].records_out}"
        print(f"| {s} | {k} | {cells} | {records} |")
    best = choose({c: pooled_over(per_seed, seeds, c) for c in CANDIDATES})
    head = "| pooled over seeds | " + " | ".join(_KEYS) + " | records | episodes |"
    print("\n" + head + "\n|---|" + "---:|" * (len(_KEYS) + 2))
    print(_row("off (before)", off))
    print(_row("out-of-fold", oof))
    print(_row(f"in-sample: {best}", pooled_over(per_seed, seeds, best)))
    agree = "agree" if len(set(picks)) == 1 else "DISAGREE"
    print(f"\nfolds' picks: {', '.join(picks)} ({agree})")
    print("\n| candidate (all seeds, pooled) | " + " | ".join(_KEYS) + " | records | episodes |")
    print("|---|" + "---:|" * (len(_KEYS) + 2))
    for k in CANDIDATES:
        print(
            _row(f"{k}: {' '.join(CANDIDATES[k]) or 'defaults'}", pooled_over(per_seed, seeds, k))
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``collect`` or ``evaluate``."""
    return seed_cv_main(
        "python -m bench.one_off_cv", __doc__, Path("/tmp/one-off-cv"), collect, evaluate, argv,
        keep=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
