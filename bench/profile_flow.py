"""Flame graphs of a flow under load: py-spy over ``alertflow run`` (or the passthrough).

Run from the repository root::

    .venv/bin/python -m bench.profile_flow --out bench/profiles/alertflow-metrics.svg
    .venv/bin/python -m bench.profile_flow --kind passthrough --out bench/profiles/pass.svg

The input topic of a fresh Tansu broker is pre-filled with ``--samples`` messages of
bench/throughput.py's metrics input, then one process of the flow reads it to its end
(``stop_at_end``) under ``py-spy record`` (100 samples/s, idle frames dropped); the
SVG is bench/flamegraph.py's, pruned to frames of at least 0.4% of the samples.
``--format speedscope`` writes py-spy's speedscope JSON instead.
Profiles show shares of the job's own time; the cost of each step in µs per sample
is bench/throughput_steps.py's.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.broker import running_broker
from bench.flamegraph import write_svg
from bench.throughput import FlowSpec, Samples, prefill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_flow",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("alertflow", "passthrough"), default="alertflow")
    parser.add_argument("--samples", "-n", type=int, default=300_000)
    parser.add_argument("--series", "-k", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=("svg", "speedscope"), default="svg")
    parser.add_argument("--title", default="", help="the SVG's title line")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args(argv)
    py_spy = Path(sys.executable).with_name("py-spy")
    samples = Samples(args.series, partitions=1)
    with running_broker() as broker:
        broker.create_topics("prof.in", partitions=1)
        prefill(broker.bootstrap, "prof.in", samples, args.samples)
        spec = FlowSpec(args.kind, 1, broker.bootstrap, "prof.in", "prof.", stop_at_end=True)
        broker.create_topics(*spec.out_topics(), partitions=1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "stacks.txt"
            target = args.out if args.format == "speedscope" else raw
            cmd = [str(py_spy), "record", "--rate", str(args.rate), "--format",
                   "speedscope" if args.format == "speedscope" else "raw",
                   "-o", str(target), "--", *spec.commands()[0]]
            code = subprocess.run(cmd, check=False).returncode
            if args.format == "svg" and raw.exists():
                title = args.title or f"{args.kind}, {args.samples:,} samples"
                write_svg(raw, args.out, title)
        return code


if __name__ == "__main__":
    sys.exit(main())
