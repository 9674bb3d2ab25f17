"""Root-cause ranking weights chosen by cross-validation over the simulator's dev seeds.

    .venv/bin/python -m bench.rank_cv collect --seeds 0-8 --scenarios 12 --dir /tmp/rank-cv
    .venv/bin/python -m bench.rank_cv evaluate --dir /tmp/rank-cv --seeds 0-8

``collect`` simulates the same scenarios as ``bench/correlation.py --situations`` (same
seeds, same draws) and runs ``alertflow run`` on each, recording what every incident's
last ranking read (its members and the call graph). ``evaluate`` ranks those again under
each candidate setting of :class:`~correlation.rootcause.RankWeights` and scores top-1/top-3
exactly as ``bench/correlation.py`` does: leave-one-seed-out (out-of-fold: the setting
chosen on the other seeds, scored on the left-out one) beside in-sample (the best setting
on all of them), per fault kind too. Held-out seeds (>= 9000) are only ever scored with
the defaults (``--defaults-only``), never tuned on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import pickle
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.rank_moves import WITHOUT_MOVES
from alertflow.operators.correlation.rootcause import RankWeights, rank_by_onset
from alertflow.operators.simulate import SimulationError, Situations, simulate

from bench import correlation as bc
from bench import zscore


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def _record_run(out: Path, argv: list[str]) -> int:
    """Run the ``alertflow`` CLI in this process, keeping each incident's last ranking input."""
    from alertflow.dataflows import cli
    from alertflow.operators.correlation import incident_render

    seen: dict[str, tuple] = {}
    causes = incident_render._causes

    def recording(state, members, graph, levels=None):
        seen[state.incident_id] = (list(members), graph)
        return causes(state, members, graph, levels)

    incident_render._causes = recording
    rc = cli.main(argv)
    out.write_bytes(pickle.dumps(seen))
    return rc


def fresh_scenarios(
    seed: int, scenarios: int, root: Path, settings: Sequence[str]
) -> Iterator[tuple[Path, Path, Path, list[str]]]:
    """A seed's scenarios not collected yet, simulated: (work, in, out, ``alertflow run`` args).

    The same seed draws the same scenarios, so one whose ``scenario.pkl`` exists counts as
    done; the caller runs the others, writes it, and the progress line follows.
    """
    rng = random.Random(seed)
    done = 0
    while done < scenarios:
        p = bc.draw(rng)
        work = root / f"seed{seed}" / f"s{p.seed}"
        inp, out = work / "in", work / "out"
        if not (work / "scenario.pkl").exists():
            try:
                simulate(inp, seed=p.seed, services=p.services, duration_s=p.duration_s,
                         incidents=p.incidents, noise_alerts=p.noise_alerts, clusters=p.clusters,
                         situations=Situations.every())  # fmt: skip
            except SimulationError:
                continue
            args = ["run", "--output", str(out)]
            for name in ("alerts", "traces", "metrics"):
                args += ["--input", f"{name}={inp / (name + '.jsonl')}"]
            for setting in (*bc.REPLAY_SETTINGS, *settings):
                args += ["--set", setting]
            yield work, inp, out, args
            print(f"seed {seed}: scenario {done + 1}/{scenarios}", file=sys.stderr, flush=True)
        done += 1


def collect(seed: int, scenarios: int, root: Path) -> None:
    """Simulate and run one seed's scenarios, saving what ``evaluate`` needs."""
    moves = ("scoring.track_shift=true",)  # moves are opt-in
    for work, inp, out, args in fresh_scenarios(seed, scenarios, root, moves):
        subprocess.run(
            [sys.executable, "-m", "bench.rank_cv", "_record", str(work / "ranking.pkl"), *args],
            check=True, capture_output=True,
        )  # fmt: skip
        truth = json.loads((inp / "ground_truth.json").read_text())
        metrics = zscore.read_simulated(inp / "metrics.jsonl")
        z = {
            inc["id"]: zscore.rank(metrics.get(inc["cluster"], {}), bc.parse_ts(inc["start"]))
            for inc in truth["incidents"]
        }
        records = bc.last_versions((out / "incidents.jsonl").read_text().splitlines())
        (work / "scenario.pkl").write_bytes(pickle.dumps((truth, records, z)))
        # The raw series, for offline diagnosis of what each service's metrics did.
        (work / "series.pkl").write_bytes(pickle.dumps(_plain(metrics)))
        for name in ("metrics.jsonl", "traces.jsonl"):
            (inp / name).unlink()


def _plain(metrics: dict) -> dict:
    """``zscore.read_simulated``'s nested defaultdicts as plain dicts (picklable)."""
    return {c: {s: dict(by) for s, by in services.items()} for c, services in metrics.items()}


@dataclass(slots=True)
class Tally:
    """Top-1/top-3 hits over true incidents."""

    n: int = 0
    top1: int = 0
    top3: int = 0
    z1: int = 0
    z3: int = 0

    def add(self, other: Tally) -> None:
        self.n += other.n
        self.top1 += other.top1
        self.top3 += other.top3
        self.z1 += other.z1
        self.z3 += other.z3

    def rates(self) -> tuple[float, float]:
        return (self.top1 / self.n, self.top3 / self.n) if self.n else (0.0, 0.0)


def load(root: Path, seed: int) -> list[tuple]:
    """A seed's scenarios: (truth, records, z ranks, recorded ranking inputs, level books)."""
    out = []
    for work in sorted((root / f"seed{seed}").glob("s*")):
        if (work / "scenario.pkl").exists():
            truth, records, z = pickle.loads((work / "scenario.pkl").read_bytes())
            inputs = pickle.loads((work / "ranking.pkl").read_bytes())
            out.append((truth, records, z, inputs, _levels(work, inputs)))
    return out


def _levels(work: Path, inputs: dict) -> dict[str, LevelBook]:
    """Per recorded incident, the level book as of its ranking (cached in levels.pkl).

    Built from the scenario's raw series (series.pkl): every sample of the incident's
    services and their dependencies up to its last member, as the correlator would hold.
    A ring of ``SLOTS`` buckets: the product's 15 (75 minutes) read at the last member
    have forgotten the start of an incident that lasted an hour, which the product's book
    remembers (changes are kept once settled, ``LevelBook.series_changes``): the default
    (``FRESH_SLOTS``, longer than any scenario) reads every start as when it was fresh.
    """
    cache = work / f"levels-{BUCKET_S:.0f}{'' if SLOTS == 15 else f'-{SLOTS}'}.pkl"
    if cache.exists():
        return _newest(pickle.loads(cache.read_bytes()))
    if not (work / "series.pkl").exists():
        return {}
    series = pickle.loads((work / "series.pkl").read_bytes())
    books = {}
    for iid, (members, graph) in inputs.items():
        cluster = Counter(m.labels.get("cluster", "") for m in members).most_common(1)[0][0]
        by_service = series.get(cluster) or next(iter(series.values()), {})
        near = {m.service for m in members if m.service}
        near |= {d for s in near for d in graph.downstream(s)}
        now = max(m.last_ns for m in members) / 1e9
        book = books[iid] = LevelBook(BUCKET_S, SLOTS)
        held_s = book.bucket_s * (book.slots + 1)
        for service in sorted(near & by_service.keys()):
            for key, points in by_service[service].items():
                for t, v in points:
                    if now - held_s <= t <= now:
                        book.add(service, key, int(t * 1e9), v)
    cache.write_bytes(pickle.dumps(books))
    return _newest(books)


def _newest(books: dict[str, LevelBook]) -> dict[str, LevelBook]:
    # Books cached before LevelBook.newest existed: as a fed book would have it.
    for book in books.values():
        book.newest = max((r.head for by in book.rings.values() for r in by.values()), default=-1)
    return books


def score(scenarios: list[tuple], weights: RankWeights) -> dict[str, Tally]:
    """Top-1/top-3 per fault kind (and "all") with every incident ranked under ``weights``."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for truth, records, z, inputs, levels in scenarios:
        predicted = []
        for rec in records:
            base = bc.from_incident(rec)
            if rec["incident_id"] in inputs:
                members, graph = inputs[rec["incident_id"]]
                ranked = tuple(
                    c.service
                    for c in rank_by_onset(
                        members, graph, weights=weights, levels=levels.get(rec["incident_id"])
                    )
                )
                base = replace(base, ranked=ranked)
            predicted.append(base)
        taken: set[str] = set()
        for inc in sorted(truth["incidents"], key=lambda i: (bc.parse_ts(i["start"]), i["id"])):
            m = bc.match(inc["alert_fingerprints"], predicted)
            root = inc["root_cause"]
            t = Tally(
                1, 0, 0, zscore.hits(z[inc["id"]], root, 1), zscore.hits(z[inc["id"]], root, 3)
            )
            if m is not None:
                taken.add(m.incident_id)
                t.top1, t.top3 = bc.topk(m.ranked, root, 1), bc.topk(m.ranked, root, 3)
            tallies[inc["fault"]].add(t)
            tallies["all"].add(t)
    return tallies


# The level book's bucket (its ring holds 75 minutes of them); the correlator's default.
BUCKET_S = float(os.environ.get("RANK_CV_BUCKET_S", LevelBook().bucket_s))
# Ring length of the offline books: longer than any scenario (6 h), so each start reads
# what a fresh ring held (RANK_CV_SLOTS=15: what a 75-minute ring holds at the last member).
FRESH_SLOTS = int(8 * 3600 // BUCKET_S)
SLOTS = int(os.environ.get("RANK_CV_SLOTS", FRESH_SLOTS))
# Main's ranking: first movers, no change at the start measured against each series' hour.
OLD = replace(WITHOUT_MOVES, level_first=0.0, level_extra=math.inf, level_early_s=math.inf)
# The fifth session's ranking (rank4): levels read, no dependency outside the incident leads.
LEVELS4 = replace(
    WITHOUT_MOVES, level_first=10.0, level_extra=3.0, level_outside=math.inf,
    level_below=math.inf, level_keep=0, level_early_s=math.inf,
)  # fmt: skip
# The sixth session's (rank5): no dependency of the first place promoted, no mover kept.
LEVELS5 = replace(WITHOUT_MOVES, level_below=math.inf, level_keep=0, level_early_s=math.inf)
# The seventh session's (rank6): no earlier mover named.
LEVELS6 = replace(WITHOUT_MOVES, level_early_s=math.inf)
# What each grid setting starts from: the ranking without tracked shifts (scoring's default),
# or with them (scoring.track_shift and RankWeights' move weights).
BASES = {"plain": WITHOUT_MOVES, "tracked": RankWeights()}

# The candidate settings: the knobs of the change at the incident's start (rank_levels).
# rank3 chose level_min 0 in every fold and never level_lead_s 0 or level_first 2; rank4's
# longer leads and per-metric-kind scale were never chosen out of fold (kept at 300 / 0).
# rank5 chose level_first 20 and level_outside 1 in 9 of 9 folds, level_extra 10 in 8 (held
# there since). rank6 adds a dependency of the first place that moved more (level_below)
# and the largest movers kept among the first places (level_keep, level_keep_min): 9 of 9
# folds chose 1, 2 and 1 (held there since). rank7 adds what moved most at an earlier start
# (level_early_s before it, level_early_min spreads or more), named at place 3 at the latest.
GRID = {
    "level_lead_s": (300.0,),
    "level_first": (20.0,),
    "level_min": (0.0,),
    "level_extra": (10.0,),
    "level_kind": (0.0,),
    "level_outside": (1.0,),
    "level_below": (1.0,),
    "level_keep": (2,),
    "level_keep_min": (1.0,),
    "level_early_s": (math.inf, 300.0, 600.0, 900.0, 1200.0, 1800.0),
    "level_early_min": (1.0, 2.0, 3.0, 5.0, 10.0),
    "level_early_place": (3, 2),
}


def candidates(base: RankWeights) -> list[RankWeights]:
    """Every setting of the grid, on ``base``."""
    names = list(GRID)
    return [replace(base, **dict(zip(names, values, strict=True)))
            for values in itertools.product(*GRID.values())]  # fmt: skip


def _objective(t: Tally) -> float:
    top1, top3 = t.rates()
    return top1 + top3


def _cell(t: Tally) -> str:
    top1, top3 = t.rates()
    return f"{top1:.3f} / {top3:.3f}"


def evaluate(root: Path, seeds: Sequence[int], held_out: bool, base: str = "plain") -> None:
    """Print old, rank4's and default weights, and (dev seeds) in-sample and out-of-fold choices."""
    data = {seed: load(root, seed) for seed in seeds}
    defaults = BASES[base]
    grid = [OLD, LEVELS4, LEVELS5, LEVELS6, defaults] + ([] if held_out else candidates(defaults))
    per = {(i, seed): score(data[seed], w) for i, w in enumerate(grid) for seed in seeds}

    def pooled(i: int, among: Sequence[int]) -> dict[str, Tally]:
        out: dict[str, Tally] = defaultdict(Tally)
        for seed in among:
            for kind, t in per[i, seed].items():
                out[kind].add(t)
        return out

    columns = {
        "main": pooled(0, seeds),
        "rank4": pooled(1, seeds),
        "rank5": pooled(2, seeds),
        "rank6": pooled(3, seeds),
        "defaults": pooled(4, seeds),
    }
    if not held_out:
        tuned = range(5, len(grid))
        best = max(tuned, key=lambda i: _objective(pooled(i, seeds)["all"]))
        oof: dict[str, Tally] = defaultdict(Tally)
        for seed in seeds:
            rest = [s for s in seeds if s != seed]
            chosen = max(tuned, key=lambda i: _objective(pooled(i, rest)["all"]))
            print(f"fold {seed}: chose {grid[chosen]}")
            for kind, t in per[chosen, seed].items():
                oof[kind].add(t)
        print(f"in-sample best: {grid[best]}")
        columns |= {"in-sample best": pooled(best, seeds), "out-of-fold": oof}
    print(
        f"\nseeds {seeds[0]}-{seeds[-1]}, {sum(len(d) for d in data.values())} scenarios; "
        "cells are top-1 / top-3\n"
    )
    print("| fault kind | n | " + " | ".join(columns) + " | z-score baseline |")
    print("|---|---:|" + "---:|" * (len(columns) + 1))
    old = columns["main"]
    for kind in sorted(old, key=lambda k: (k != "all", k)):
        z = old[kind]
        cells = " | ".join(_cell(c[kind]) for c in columns.values())
        print(f"| {kind} | {z.n} | {cells} | {z.z1 / z.n:.3f} / {z.z3 / z.n:.3f} |")


def cost(root: Path, seeds: Sequence[int], repeats: int = 5) -> None:
    """Microseconds per ranking of every recorded incident: the old weights against the new."""
    inputs = [
        (*v, books.get(iid))
        for seed in seeds
        for *_, recorded, books in load(root, seed)
        for iid, v in recorded.items()
    ]
    runs = (("main", OLD, False), ("levels, first ranking", BASES["plain"], True),
            ("levels, again (settled changes remembered)", BASES["plain"], False))  # fmt: skip
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):  # alternated: a shared machine's load moves between rows less
        for name, weights, forget in runs:
            if forget:
                for *_, book in inputs:
                    if book is not None:
                        book.memo.clear()
            start = time.thread_time()  # CPU: what other processes take does not count
            for members, graph, book in inputs:
                rank_by_onset(members, graph, weights=weights, levels=book)
            times[name].append((time.thread_time() - start) / len(inputs) * 1e6)
    rows = [(name, statistics.median(times[name])) for name, *_ in runs]
    print(f"{len(inputs)} incidents, median of {repeats}\n")
    print("| ranking | µs per incident | x old |\n|---|---:|---:|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} | {us / rows[0][1]:.2f} |")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``collect``, ``evaluate``, or ``_record`` (one run, used by collect)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_record":
        return _record_run(Path(argv[1]), argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("collect", "evaluate", "cost"))
    parser.add_argument("--seeds", default="0-8")
    parser.add_argument("--scenarios", type=int, default=12)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/rank-cv"))
    parser.add_argument("--defaults-only", action="store_true", help="held-out seeds")
    parser.add_argument(
        "--base", choices=tuple(BASES), default="plain",
        help="the defaults the grid varies: without tracked shifts (scoring's default) or with",
    )  # fmt: skip
    args = parser.parse_args(argv)
    seeds = _seeds(args.seeds)
    if args.command == "collect":
        for seed in seeds:
            collect(seed, args.scenarios, args.dir)
    elif args.command == "cost":
        cost(args.dir, seeds)
    else:
        evaluate(args.dir, seeds, args.defaults_only or min(seeds) >= 9000, args.base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
