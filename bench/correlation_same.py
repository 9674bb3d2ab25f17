"""Check that a change to correlation's cost leaves its incidents byte-identical.

    .venv/bin/python -m bench.correlation_same save DIR [--seed 0] [--situations] [--scenarios 12]
    .venv/bin/python -m bench.correlation_same check DIR [same options]
    .venv/bin/python -m bench.correlation_same demo-save|demo-check DIR

The scenarios are those of ``bench.correlation`` (same ``draw``, same seed, same
``Situations``): each is simulated, ``alertflow run`` replays it as that bench does,
and its ``incidents.jsonl`` and ``notifications.jsonl`` are kept. ``save`` writes them
under DIR; ``check`` runs again and compares, line by line, after dropping the fields
that carry wall-clock time (``WALL_FIELDS``), and exits 1 on the first difference.
``demo`` does the same for ``alertflow demo``'s outputs.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from alertflow.operators.simulate import SimulationError, Situations, simulate

from bench.correlation import ALERTFLOW, REPLAY_SETTINGS, draw

# Fields set from the wall clock (when a record was processed), not from the data.
WALL_FIELDS = frozenset({"processed_at", "emitted_at", "read_at", "wall_at", "latency_ms"})
OUTPUTS = ("incidents.jsonl", "notifications.jsonl")


def normalised(path: Path) -> list[str]:
    """A JSON-lines file's records with wall-clock fields dropped, keys sorted."""
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if isinstance(record, dict):
            for name in WALL_FIELDS & record.keys():
                del record[name]
        lines.append(json.dumps(record, sort_keys=True))
    return lines


def _run(inp: Path, out: Path) -> None:
    args = [str(ALERTFLOW), "run", "--output", str(out)]
    for name in ("alerts", "traces", "metrics"):
        args += ["--input", f"{name}={inp / f'{name}.jsonl'}"]
    for setting in REPLAY_SETTINGS:
        args += ["--set", setting]
    proc = subprocess.run(args, check=False, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"alertflow run failed: {proc.stderr[-2000:]}")


def scenarios(seed: int, count: int, situations: bool, tmp: Path) -> list[tuple[str, Path]]:
    """Run ``count`` scenarios of ``bench.correlation``; (name, output dir) of each."""
    rng = random.Random(seed)
    done: list[tuple[str, Path]] = []
    tried = 0
    while len(done) < count:
        p = draw(rng)
        tried += 1
        inp, out = tmp / f"in{tried}", tmp / f"out{tried}"
        try:
            simulate(inp, seed=p.seed, services=p.services, duration_s=p.duration_s,
                     incidents=p.incidents, noise_alerts=p.noise_alerts, clusters=p.clusters,
                     situations=Situations.every() if situations else None)  # fmt: skip
        except SimulationError:
            continue
        _run(inp, out)
        done.append((f"s{len(done)}", out))
        print(f"scenario {len(done)}/{count} done", file=sys.stderr)
    return done


def _demo(tmp: Path) -> list[tuple[str, Path]]:
    out = tmp / "demo"
    subprocess.run([str(ALERTFLOW), "demo", "--out", str(out)], check=True, capture_output=True)
    found = sorted({p.parent for name in OUTPUTS for p in out.rglob(name)})
    return [(str(p.relative_to(out)).replace("/", "_") or "demo", p) for p in found]


def compare(saved: Path, runs: list[tuple[str, Path]], save: bool) -> int:
    """Save each run's normalised outputs under ``saved``, or compare with them; 1 if any differ."""
    bad = 0
    for name, out in runs:
        for output in OUTPUTS:
            lines = normalised(out / output)
            kept = saved / name / output
            if save:
                kept.parent.mkdir(parents=True, exist_ok=True)
                kept.write_text("".join(f"{line}\n" for line in lines))
                continue
            before = kept.read_text().splitlines() if kept.exists() else []
            if before != lines:
                bad = 1
                pairs = enumerate(zip(before, lines, strict=False))
                diff = next((i for i, (a, b) in pairs if a != b), min(len(before), len(lines)))
                print(f"{name}/{output}: differs at record {diff} "
                      f"({len(before)} records before, {len(lines)} now)")  # fmt: skip
            else:
                print(f"{name}/{output}: identical ({len(lines)} records)")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("save", "check", "demo-save", "demo-check"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", type=int, default=12)
    parser.add_argument("--situations", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="corr-same-") as tmp:
        if args.mode.startswith("demo"):
            runs = _demo(Path(tmp))
        else:
            runs = scenarios(args.seed, args.scenarios, args.situations, Path(tmp))
        return compare(args.dir, runs, save=args.mode.endswith("save"))


if __name__ == "__main__":
    raise SystemExit(main())
