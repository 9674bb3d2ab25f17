"""The ``alertflow`` command: run, detect, simulate, demo."""

import argparse
import sys
from pathlib import Path
from typing import Any

from schemas.config import INPUT_STREAMS, AlertflowConfig, ConfigError, load_config
from schemas.errors import AlertflowError


def _input_pair(text: str) -> tuple[str, str]:
    stream, sep, uri = text.partition("=")
    if not sep or stream not in INPUT_STREAMS or not uri:
        raise argparse.ArgumentTypeError(
            f"expected STREAM=URI with STREAM one of {', '.join(INPUT_STREAMS)}, got {text!r}"
        )
    return stream, uri


def _setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. scoring.threshold=0.6): {text}")
    return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alertflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the streaming job")
    run.add_argument(
        "--input",
        action="append",
        type=_input_pair,
        default=[],
        metavar="STREAM=URI",
        help="kafka://host:port/topic or a JSONL file",
    )
    run.add_argument("--output", help="kafka://host:port or a directory")
    run.add_argument("--config", type=Path, help="YAML or TOML file with any of the settings")
    run.add_argument(
        "--set",
        action="append",
        type=_setting,
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set scoring.threshold=0.6",
    )
    run.add_argument("-w", "--workers-per-process", type=int)
    run.add_argument("-i", "--process-id", type=int)
    run.add_argument("-a", "--addresses", help="host:port;host:port of every process")
    run.add_argument("--recovery-dir", type=Path, help="resume from and snapshot to this dir")
    run.add_argument("--stats-file", type=Path, help="write in-job latency stats here")

    detect = sub.add_parser("detect", help="score a timestamp,value CSV")
    detect.add_argument("csv", type=Path)
    detect.add_argument("--config", type=Path)

    simulate = sub.add_parser("simulate", help="generate a microservice estate's telemetry")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--out", type=Path, required=True)
    simulate.add_argument("--services", type=int, default=12)
    simulate.add_argument("--hours", type=float, default=3.0)
    simulate.add_argument("--incidents", type=int, default=3)
    simulate.add_argument("--noise-alerts", type=int, default=6, help="0: no flapping noise")
    simulate.add_argument("--clusters", type=int, default=1)
    situations = simulate.add_argument_group("situations (operators.simulate.situations)")
    situations.add_argument(
        "--overlapping", action="store_true", help="faults start during others, next to them"
    )
    situations.add_argument(
        "--group-interval", type=int, default=0, metavar="S", help="Alertmanager group batching"
    )
    situations.add_argument(
        "--root-for", type=int, default=0, metavar="S", help="longer for: on roots' own alerts"
    )
    situations.add_argument(
        "--infrastructure", action="store_true", help="node, kubelet and heartbeat alerts"
    )
    situations.add_argument(
        "--always-firing", type=int, default=0, metavar="N", help="alerts firing since days ago"
    )
    situations.add_argument(
        "--all-situations", action="store_true", help="every situation, at issue 10's strength"
    )

    demo = sub.add_parser("demo", help="simulate an estate and watch alertflow work on it")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--out", type=Path, default=Path("alertflow-demo"))
    return parser


def _run_config(args: argparse.Namespace) -> AlertflowConfig:
    overrides: dict[str, Any] = dict(args.set)
    if args.input:
        inputs: dict[str, list[str]] = {}
        for stream, uri in args.input:
            inputs.setdefault(stream, []).append(uri)
        overrides["inputs"] = inputs
    flag_settings = {
        "output": args.output,
        "runtime.workers_per_process": args.workers_per_process,
        "runtime.process_id": args.process_id,
        "runtime.addresses": args.addresses.split(";") if args.addresses else None,
        "runtime.recovery_dir": args.recovery_dir,
        "runtime.stats_file": args.stats_file,
    }
    overrides.update({k: v for k, v in flag_settings.items() if v is not None})
    config = load_config(args.config, overrides)
    if not config.inputs:
        raise ConfigError("no inputs: give at least one --input STREAM=URI")
    return config


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alertflow`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from dataflows.flow import build_flow
            from dataflows.runner import run

            config = _run_config(args)
            run(build_flow(config), config.runtime)
        elif args.command == "detect":
            from dataflows.detect import detect_csv

            detect_csv(args.csv, load_config(args.config))
        elif args.command == "simulate":
            from operators.simulate import Situations, simulate

            situations = (
                Situations.every()
                if args.all_situations
                else Situations(
                    args.overlapping,
                    args.group_interval,
                    args.root_for,
                    args.infrastructure,
                    args.always_firing,
                )
            )
            summary = simulate(
                args.out,
                seed=args.seed,
                services=args.services,
                duration_s=int(args.hours * 3600),
                incidents=args.incidents,
                noise_alerts=args.noise_alerts,
                clusters=args.clusters,
                situations=situations,
            )
            print(summary)
        elif args.command == "demo":
            from dataflows.demo import run_demo

            run_demo(args.out, seed=args.seed)
    except AlertflowError as exc:
        print(f"alertflow: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
