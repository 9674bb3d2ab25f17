"""Log template quality on Loghub: our miner beside drain3, default and with per-system settings.

Run from the repository root::

    .venv/bin/python bench/logs.py                 # ../shared/datasets/loghub
    .venv/bin/python bench/logs.py --no-cv          # skip the settings cross-validation

Every system under ``--data`` (``<S>/<S>_2k.log_structured_corrected.csv``) is parsed line by
line, in order, by:

- ``alertflow``: ``operators.log_miner.TemplateMiner`` with its defaults, one setting for all.

Beside the Loghub systems, ``alertflow-sim``: 2,000 lines of the simulator's own log templates
(``operators.simulate.logs``; ``{op}``, ``{via}`` and the numbers are the parameters), as a
ninth development system: the defaults must also group the product's own demo logs. The
Loghub means are printed without it.
- ``drain3``: ``drain3.drain.Drain()`` with no settings, on the raw message.
- ``drain3-tuned``: ``Drain(sim_th, depth)`` after the per-system regexes that logparser's
  Drain benchmark (logpai/logparser, ``logparser/Drain/benchmark.py``) publishes, each match
  replaced by ``<*>`` as that script does.

GA and PA as the dataset's README defines them, from each line's template after the whole file
was read. lines/s: all systems' lines through a fresh parser, best of three, in CPU time
(``time.process_time``) on one core.
The cross-validation picks our miner's settings from a grid on seven systems and scores the
eighth (leave one system out), beside the in-sample score of the shipped defaults.
"""

import argparse
import contextlib
import csv
import datetime as dt
import io
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from drain3.drain import Drain

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertflow.operators.log_miner import PREFIX, SETTLE, SIM_TH, Template, TemplateMiner
from alertflow.operators.simulate.logs import _CALLER, _INFO, _OOM, _ROOT, _WARN, _fill

from bench.report import command_line, machine, record, revision

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "loghub"

# logparser's Drain benchmark: (regexes, st, depth) per system.
TUNED: dict[str, tuple[list[str], float, int]] = {
    "Hadoop": ([r"(\d+\.){3}\d+"], 0.5, 4),
    "Zookeeper": ([r"(/|)(\d+\.){3}\d+(:\d+)?"], 0.5, 4),
    "Windows": ([r"0x.*?\s"], 0.7, 5),
    "Linux": ([r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"], 0.39, 6),
    "Android": (
        [
            r"(/[\w-]+)+",
            r"([\w-]+\.){2,}[\w-]+",
            r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b",
        ],
        0.2,
        6,
    ),
    "HealthApp": ([], 0.2, 4),
    "Proxifier": (
        [r"<\d+\ssec", r"([\w-]+\.)+[\w-]+(:\d+)?", r"\d{2}:\d{2}(:\d{2})*", r"[KGTM]B"],
        0.6,
        3,
    ),
    "Mac": ([r"([\w-]+\.){2,}[\w-]+"], 0.7, 6),
}

GRID = [
    {"sim_th": t, "prefix": p, "settle": s}
    for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    for p in (1, 2, 3)
    for s in (0, 3, 5, 10, 20, 50)
]

SIM = "alertflow-sim"
_OPS = ("GET /cart", "POST /cart", "GET /orders", "PUT /orders/items", "DELETE /session")
_VIA = ("payments", "orders", "auth-2", "inventory")

Parse = Callable[[Sequence[str]], tuple[list[object], list[str]]]


def load(data: Path) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """System -> (messages, true group ids, true templates)."""
    out = {}
    for path in sorted(data.glob("*/*_2k.log_structured_corrected.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        out[path.parent.name] = (
            [r["Content"] for r in rows],
            [r["EventId"] for r in rows],
            [r["EventTemplate"] for r in rows],
        )
    return out


def simulated(seed: int = 0, lines: int = 2000) -> tuple[list[str], list[str], list[str]]:
    """The simulator's templates filled at random: (messages, template ids, templates)."""
    templates = [*_INFO, *_WARN, *(t for _, t in _ROOT.values()), *_CALLER.values(), _OOM]
    rng = random.Random(seed)
    messages, groups, shown = [], [], []
    for _ in range(lines):
        template = rng.choice(templates)
        messages.append(_fill(rng, template, op=rng.choice(_OPS), via=rng.choice(_VIA)))
        groups.append(template)
        shown.append(re.sub(r"\{\w+\}", "<*>", template))
    return messages, groups, shown


def grouping_accuracy(predicted: Sequence[object], truth: Sequence[str]) -> float:
    """Share of lines whose predicted group is exactly their true group."""
    sizes = Counter(truth)
    groups: dict[object, list[int]] = defaultdict(list)
    for i, group in enumerate(predicted):
        groups[group].append(i)
    correct = 0
    for members in groups.values():
        true = {truth[i] for i in members}
        if len(true) == 1 and sizes[truth[members[0]]] == len(members):
            correct += len(members)
    return correct / len(truth)


_RUN = re.compile(r"<\*>(?:\s*<\*>)+")


def _norm(template: str) -> str:
    return _RUN.sub("<*>", " ".join(template.split()))


def parsing_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Share of lines whose template equals the true one (runs of ``<*>`` and spaces collapsed)."""
    return sum(_norm(p) == _norm(t) for p, t in zip(predicted, truth, strict=True)) / len(truth)


def ours(**settings: float) -> Parse:
    """Our miner; each line's final template."""

    def parse(messages: Sequence[str]) -> tuple[list[object], list[str]]:
        miner = TemplateMiner(**settings)  # type: ignore[arg-type]
        found: list[Template] = []
        for message in messages:
            found.append(miner.add(message))
        return [t.template_id for t in found], [t.template() for t in found]

    return parse


def drain3(regexes: Sequence[str] = (), **settings: float) -> Parse:
    """drain3's Drain after the given regexes (each match becomes ``<*>``)."""
    compiled = [re.compile(r) for r in regexes]

    def parse(messages: Sequence[str]) -> tuple[list[object], list[str]]:
        drain = Drain(**settings)  # type: ignore[arg-type]
        ids = []
        for message in messages:
            for regex in compiled:
                message = regex.sub("<*>", message)
            cluster, _ = drain.add_log_message(message.strip())
            ids.append(cluster.cluster_id)
        return ids, [drain.id_to_cluster[i].get_template() for i in ids]

    return parse


def score(parse: Parse, systems: dict) -> dict[str, tuple[float, float]]:
    """System -> (GA, PA)."""
    out = {}
    for name, (messages, groups, templates) in systems.items():
        ids, found = parse(messages)
        out[name] = (grouping_accuracy(ids, groups), parsing_accuracy(found, templates))
    return out


def lines_per_s(parses: dict[str, Parse], systems: dict) -> float:
    """All systems' lines, each system through its own fresh parser; best of three."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()  # CPU time: other work on a shared machine does not count
        for name, parse in parses.items():
            parse(systems[name][0])
        best = min(best, time.process_time() - start)
    return sum(len(systems[name][0]) for name in parses) / best


def cross_validate(systems: dict) -> tuple[dict[str, tuple[dict, float]], list]:
    """Leave one system out: the grid point best on the others, and its GA on the one."""
    table = [(settings, score(ours(**settings), systems)) for settings in GRID]
    out = {}
    for held in systems:
        settings, scores = max(
            table, key=lambda row: statistics.mean(ga for s, (ga, _) in row[1].items() if s != held)
        )
        out[held] = (settings, scores[held][0])
    return out, table


def main(argv: list[str] | None = None) -> None:
    """Print the table (and the cross-validation); with ``--record``, also to BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-cv", action="store_true")
    parser.add_argument("--record", action="store_true", help="write the table to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not args.record:
        run(args, argv)
        return
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run(args, argv)
    print(out.getvalue(), end="")
    today = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    record("## Log templates (Loghub)",
           f"\n### Log templates, {today}\n\n```\n{out.getvalue().rstrip()}\n```\n")
    print("appended to BENCHMARKS.md")


def run(args: argparse.Namespace, argv: list[str] | None) -> None:
    """The benchmark itself: the table, then the cross-validation unless ``--no-cv``."""
    systems = load(args.data)
    if not systems:
        raise SystemExit(f"no *_2k.log_structured_corrected.csv under {args.data}")
    loghub = list(systems)
    systems[SIM] = simulated()
    methods: dict[str, dict[str, Parse]] = {
        "alertflow": {name: ours() for name in systems},
        "drain3": {name: drain3() for name in systems},
        "drain3-tuned": {
            name: drain3(TUNED[name][0], sim_th=TUNED[name][1], depth=TUNED[name][2])
            for name in loghub
        },
    }
    results = {
        method: {name: score(parse, {name: systems[name]})[name] for name, parse in parses.items()}
        for method, parses in methods.items()
    }
    on_loghub = {m: {name: parses[name] for name in loghub} for m, parses in methods.items()}
    speed = {method: lines_per_s(parses, systems) for method, parses in on_loghub.items()}

    print(f"# {command_line('bench/logs.py', argv if argv is not None else sys.argv[1:])}")
    print(f"# {machine('drain3')}, commit {revision()}")
    print(f"# alertflow defaults: sim_th={SIM_TH} prefix={PREFIX} settle={SETTLE}")
    print(f"{'system':<14}" + "".join(f"{m + ' GA':>17}{'PA':>7}" for m in methods))
    for name in systems:
        cells = [results[m].get(name) for m in methods]
        print(
            f"{name:<14}"
            + "".join(f"{c[0]:>17.3f}{c[1]:>7.3f}" if c else f"{'-':>17}{'-':>7}" for c in cells)
        )
    for label, agg in (("Loghub mean", statistics.mean), ("Loghub min", min)):
        row = "".join(
            f"{agg(results[m][n][0] for n in loghub):>17.3f}"
            f"{agg(results[m][n][1] for n in loghub):>7.3f}"
            for m in methods
        )
        print(f"{label:<14}{row}")
    print(f"{'lines/s':<14}" + "".join(f"{speed[m]:>17,.0f}{'':>7}" for m in methods))
    print("(lines/s: the Loghub lines, CPU time, best of three)")
    if args.no_cv:
        return
    folds, table = cross_validate(systems)
    best = max(table, key=lambda row: statistics.mean(ga for ga, _ in row[1].values()))
    print("\nbest on all systems: " + " ".join(f"{k}={v}" for k, v in best[0].items()))
    print("leave-one-system-out: settings chosen on the other systems, GA on the held-out one")
    for name, (settings, ga) in folds.items():
        chosen = " ".join(f"{k}={v}" for k, v in settings.items())
        own = results["alertflow"][name][0]
        print(f"{name:<14}{ga:>7.3f}   {chosen}   (in-sample, defaults: {own:.3f})")
    oof = [folds[name][1] for name in loghub]
    own = [results["alertflow"][name][0] for name in loghub]
    print(
        f"{'Loghub mean':<14}{statistics.mean(oof):>7.3f}   min {min(oof):.3f}   "
        f"(in-sample, defaults: mean {statistics.mean(own):.3f}, min {min(own):.3f})"
    )


if __name__ == "__main__":
    main()
