"""Memory under series churn: 100,000 live series, 1,000,000 seen over time.

In-process on the scoring operator (``ShardScorer``, 64 shards as ``alertflow run``
keys them), not the full flow: through Bytewax the same 3 million samples take
this 2-core machine far longer, and the state is the same objects. Every step
each live series gets one sample (30 s of event and wall time, both simulated);
the window of live series slides so that 1,000,000 distinct series pass through,
and series silent for ``scoring.series_idle_s`` are evicted as the job's timer
would. The reference, in its own process in the same run, is the same feed
without eviction, cut at 300,000 series seen so it fits beside other work.

Reported: resident memory (VmRSS) and the pickled state (what a recovery
snapshot writes), with the number of series live in state.

    python -m bench.memory_churn [--active 100000] [--total 1000000]
"""

import argparse
import json
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

from alertflow.dataflows.logic import make_shard_scorer
from alertflow.operators.scoring import ShardScorer
from alertflow.schemas.config import AlertflowConfig
from alertflow.schemas.records import MetricSample

STEP_NS = 30 * 10**9
T0 = 1_795_600_800 * 10**9
SHARDS = 64


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _snapshot_mib(shards: list[ShardScorer]) -> float:
    return sum(len(pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)) for s in shards) / 2**20


def _feed(active: int, total: int, slide: int, evict: bool) -> list[dict]:
    # Silent for one step (less a second): only the window's series stay live.
    config = AlertflowConfig.model_validate({"scoring": {"series_idle_s": STEP_NS / 1e9 - 1}})
    shards = [make_shard_scorer(config) for _ in range(SHARDS)]
    rows = []
    steps = (total - active) // slide + 1
    checkpoints = {steps // 4, steps // 2, steps - 1}
    for step in range(steps):
        wall = step * STEP_NS
        batches: list[list] = [[] for _ in range(SHARDS)]
        for i in range(step * slide, step * slide + active):
            key = f'cpu{{pod="p{i}"}}'
            sample = MetricSample("cpu", {"pod": f"p{i}"}, T0 + wall, 50.0 + (i * 7 + step) % 11)
            batches[zlib.crc32(key.encode()) % SHARDS].append((key, sample))
        for shard, batch in zip(shards, batches, strict=True):
            shard.process(batch, wall)
            if evict:
                shard.evict_idle(wall)
        if step in checkpoints:
            rows.append({
                "seen": step * slide + active,
                "live": sum(len(s.scorers) for s in shards),
                "rss_mib": _rss_mib(),
                "snapshot_mib": _snapshot_mib(shards),
            })  # fmt: skip
    return rows


def main() -> None:
    """Run both variants in their own processes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, default=100_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--slide", type=int, default=30_000)
    parser.add_argument("--reference-total", type=int, default=300_000)
    parser.add_argument("--variant", choices=("evicting", "no-eviction"))
    args = parser.parse_args()
    if args.variant:
        total = args.total if args.variant == "evicting" else args.reference_total
        print(json.dumps(_feed(args.active, total, args.slide, args.variant == "evicting")))
        return
    print(f"{'variant':<12} {'seen':>9} {'live':>8} {'RSS MiB':>8} {'snapshot MiB':>12} "
          f"{'RSS B/live series':>17}")  # fmt: skip
    for variant in ("no-eviction", "evicting"):
        cmd = [sys.executable, "-m", "bench.memory_churn", "--variant", variant,
               *(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                 if k != "variant")]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        for row in json.loads(done.stdout.splitlines()[-1]):
            per = row["rss_mib"] * 2**20 / max(row["live"], 1)
            print(f"{variant:<12} {row['seen']:>9,} {row['live']:>8,} {row['rss_mib']:>8.0f} "
                  f"{row['snapshot_mib']:>12.0f} {per:>17,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
