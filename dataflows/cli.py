"""The ``alertflow`` command: run, serve, export, detect, simulate, demo, incidents, logs."""

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertflow.dataflows.cli_notify import add_parsers as add_notify_parsers
from alertflow.dataflows.cli_serve import (
    add_export,
    add_serve,
    run_export,
    run_serve,
    setting_overrides,
)
from alertflow.dataflows.cli_train import add_parsers as add_train_parsers
from alertflow.schemas.config import (
    INPUT_STREAMS,
    AlertflowConfig,
    ConfigError,
    RuntimeConfig,
    load_config,
)
from alertflow.schemas.errors import AlertflowError

if TYPE_CHECKING:  # imported where used: the CLI starts fast for detect, simulate, ...
    from alertflow.dataflows.job_metrics import JobMetrics
    from alertflow.dataflows.run_summary import RunSummary


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
    # As in a YAML config file: null (or ~) unsets an optional setting, e.g. a window.
    return key, None if value.lower() == "null" or value == "~" else value


_DESCRIPTION = (
    "alertflow: a streaming AIOps engine. It reads metrics, alerts, logs, traces and "
    "feedback from Kafka or JSONL files, scores every series for anomalies, groups alerts "
    "and anomalies into incidents with ranked likely causes, and writes anomalies, "
    "incidents, notifications and dead letters. Start with 'alertflow demo'."
)


def _version() -> str:
    try:
        return version("alertflow")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alertflow", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"alertflow {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_detect(sub)
    _add_simulate(sub)
    _add_demo(sub)
    _add_incidents(sub)
    _add_logs(sub)
    add_notify_parsers(sub)
    add_serve(sub, _input_pair, _setting)
    add_export(sub)
    _add_audit(sub)
    add_train_parsers(sub)
    return parser


def _add_run(sub: Any) -> None:
    streams = ", ".join(INPUT_STREAMS)
    run = sub.add_parser(
        "run",
        help="run the streaming job on Kafka topics or JSONL files",
        description="Run the streaming job. At least one --input and an --output are "
        "required (on the command line or in --config). With Kafka input it runs until "
        "SIGTERM/SIGINT; with file input it ends when the files are read, then prints a "
        "summary to stderr.",
    )
    run.add_argument(
        "--input",
        action="append",
        type=_input_pair,
        default=[],
        metavar="STREAM=URI",
        help=f"required, repeatable: STREAM is one of {streams}; URI is "
        "kafka://host:port[,host:port]/topic or a JSONL file (one message a line)",
    )
    run.add_argument(
        "--output",
        metavar="URI",
        help="required: kafka://host:port (writes the topics alertflow.<stream>) or a "
        "directory (writes <stream>.jsonl)",
    )
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML or TOML file with any of the settings (default: built-in settings)",
    )
    run.add_argument(
        "--set",
        action="append",
        type=_setting,
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, repeatable, e.g. --set scoring.threshold=0.6; null unsets "
        "an optional one (default: none)",
    )
    run.add_argument(
        "-w",
        "--workers-per-process",
        type=int,
        metavar="N",
        help="worker threads in this process (default: "
        f"{RuntimeConfig.model_fields['workers_per_process'].default})",
    )
    run.add_argument(
        "-i",
        "--process-id",
        type=int,
        metavar="I",
        help="this process's index in a multi-process cluster, 0-based; needs -a "
        "(default: a single process)",
    )
    run.add_argument(
        "-a",
        "--addresses",
        metavar="HOST:PORT;...",
        help="host:port of every process of the cluster, in -i order, ';'-separated "
        "(default: none, a single process)",
    )
    run.add_argument(
        "--recovery-dir",
        type=Path,
        metavar="DIR",
        help="snapshot state and offsets here and resume from it after a crash "
        "(default: no recovery)",
    )
    run.add_argument(
        "--show-config",
        action="store_true",
        help="print the effective settings as JSON (secrets masked) and exit",
    )
    run.add_argument(
        "--stats-file",
        type=Path,
        metavar="FILE",
        help="write in-job latency stats to FILE.<pid>.json each second (default: none)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on /metrics and the probes /livez and /readyz "
        "(default: none)",
    )
    run.add_argument(
        "--metrics-address",
        default="0.0.0.0",  # noqa: S104 (a pod's probes and scrapes come from outside it)
        metavar="HOST",
        help="address the metrics port binds (default: %(default)s)",
    )


def _add_detect(sub: Any) -> None:
    detect = sub.add_parser(
        "detect",
        help="score a timestamp,value CSV with the streaming detector",
        description="Score a timestamp,value CSV (NAB's format) with the streaming "
        "detector; prints timestamp,value,anomaly_score, each score made before the "
        "model learns its point.",
    )
    detect.add_argument(
        "csv", type=Path, metavar="FILE.csv", help="a CSV with a timestamp,value header"
    )
    detect.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML or TOML settings, e.g. scoring (default: built-in settings)",
    )


def _add_simulate(sub: Any) -> None:
    simulate = sub.add_parser(
        "simulate",
        help="write a simulated microservice estate's telemetry and its ground truth",
        description="Write metrics, alerts, traces and logs of a simulated microservice "
        "estate with injected faults, plus ground_truth.json; the same seed gives the "
        "same files.",
    )
    simulate.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="required: directory to write"
    )
    simulate.add_argument(
        "--seed", type=int, default=0, metavar="N", help="random seed (default: %(default)s)"
    )
    simulate.add_argument(
        "--services",
        type=int,
        default=12,
        metavar="N",
        help="services in the estate (default: %(default)s)",
    )
    simulate.add_argument(
        "--hours",
        type=float,
        default=3.0,
        metavar="H",
        help="hours of telemetry (default: %(default)s)",
    )
    simulate.add_argument(
        "--incidents",
        type=int,
        default=3,
        metavar="N",
        help="faults to inject (default: %(default)s)",
    )
    simulate.add_argument(
        "--noise-alerts", type=int, default=6, metavar="N",
        help="flapping noise alerts (default: %(default)s; 0: none)",
    )
    simulate.add_argument(
        "--clusters", type=int, default=1, metavar="N", help="clusters (default: %(default)s)"
    )
    simulate.add_argument(
        "--trends", type=int, default=0, metavar="N",
        help="also N series trending toward thresholds: trends.jsonl, breaches.json and "
        "prediction.yaml (default: 0)",
    )
    situations = simulate.add_argument_group("situations (operators.simulate.situations)")
    situations.add_argument(
        "--overlapping", action="store_true",
        help="faults start during others, next to them (default: off)",
    )
    situations.add_argument(
        "--group-interval", type=int, default=0, metavar="S",
        help="Alertmanager group batching every S seconds (default: 0, none)",
    )
    situations.add_argument(
        "--root-for", type=int, default=0, metavar="S",
        help="a for: of S seconds on roots' own alerts (default: 0, as their callers')",
    )
    situations.add_argument(
        "--infrastructure", action="store_true",
        help="node, kubelet and heartbeat alerts (default: off)",
    )
    situations.add_argument(
        "--always-firing", type=int, default=0, metavar="N",
        help="N alerts firing since days ago (default: 0)",
    )
    situations.add_argument(
        "--cold-start", action="store_true",
        help="the first fault starts within 10 minutes, before any baseline (default: off)",
    )
    situations.add_argument(
        "--all-situations", action="store_true",
        help="every situation above at once (default: off)",
    )


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="simulate an estate, run alertflow on it and score it against the truth",
        description="Simulate a small estate with injected faults, run the full flow on "
        "it, then show the pages in time order, the incidents, and a score against the "
        "simulation's ground truth.",
    )
    demo.add_argument(
        "--seed", type=int, default=7, metavar="N", help="simulation seed (default: %(default)s)"
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("alertflow-demo"),
        metavar="DIR",
        help="where input/ and output/ go (default: %(default)s)",
    )
    demo.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also every incident version, full evidence and anomalies, info included",
    )


def _add_incidents(sub: Any) -> None:
    incidents = sub.add_parser(
        "incidents",
        help="the current incidents of a run (the last version of each)",
        description="Print the current incidents of a run: the last version of each "
        "incident_id in DIR/incidents.jsonl (or in FILE).",
    )
    incidents.add_argument(
        "target",
        metavar="DIR|FILE|kafka://HOST:PORT/TOPIC",
        help="a run's --output directory, a versions file, or the incidents topic "
        "(kafka://host:port/alertflow.incidents; read from the beginning to its end)",
    )
    incidents.add_argument(
        "--json", action="store_true", help="one JSON incident per line instead of a table"
    )


def _add_logs(sub: Any) -> None:
    logs = sub.add_parser("logs", help="log tools").add_subparsers(dest="logs", required=True)
    templates = logs.add_parser(
        "templates",
        help="the template of every line of a log file (one message a line, or JSON logs)",
    )
    templates.add_argument(
        "file", type=Path, metavar="FILE", help="a log file: one message a line, or JSON logs"
    )
    templates.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line, in order: line, service, template_id, template "
        "(or error); default: templates by count",
    )


def _add_audit(sub: Any) -> None:
    audit = sub.add_parser("audit", help="audit chain tools").add_subparsers(
        dest="audit", required=True
    )
    check = audit.add_parser(
        "verify",
        help="check a hash-chained audit stream; exit 1 naming the first broken link",
        description="Read an audit stream from its start and check every link of every "
        "chain: each record's hash, its predecessor's hash, no seq missing, and repeated "
        "records (replays after a crash) identical. Exit 0 when intact, 1 on a break.",
    )
    check.add_argument(
        "source",
        metavar="DIR|FILE|kafka://HOST:PORT/TOPIC",
        help="a run's --output directory, its audit.jsonl, or the audit topic",
    )


def _run_config(args: argparse.Namespace) -> AlertflowConfig:
    overrides = setting_overrides(args)
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


def _serve_metrics(args: argparse.Namespace, summary: "RunSummary") -> "JobMetrics | None":
    """The job's metrics and probes, serving from now on; None without --metrics-port."""
    if args.metrics_port is None:
        return None
    from alertflow.dataflows.job_metrics import JobMetrics

    metrics = JobMetrics(summary)
    try:
        metrics.serve(args.metrics_port, args.metrics_address)
    except OSError as exc:
        raise ConfigError(
            f"--metrics-port {args.metrics_port}: cannot listen on "
            f"{args.metrics_address}: {exc.strerror}"
        ) from None
    return metrics


def _write_current_incidents(config: AlertflowConfig) -> None:
    """After a file run, the current incidents beside their versions (process 0 only)."""
    from alertflow.dataflows.incident_view import write_current
    from alertflow.dataflows.uris import parse_location

    location = parse_location(config.output or "")
    if isinstance(location, Path) and not config.runtime.process_id:
        write_current(location)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alertflow`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from alertflow.dataflows.flow import build_flow
            from alertflow.dataflows.run_summary import RunSummary
            from alertflow.dataflows.runner import run
            from alertflow.dataflows.sources import check_inputs

            config = _run_config(args)
            if args.show_config:
                print(config.model_dump_json(indent=2))  # SecretStr values print as ****
                return 0
            summary = RunSummary()
            metrics = _serve_metrics(args, summary)

            def preflight() -> None:
                # Input brokers that do not answer: one line, before the engine starts.
                check_inputs(config)
                if metrics is not None:
                    metrics.ready.set()

            run(build_flow(config, summary=summary, metrics=metrics), config.runtime, preflight)
            _write_current_incidents(config)
            for line in summary.lines(config.runtime.process_id) + summary.warnings():
                print(line, file=sys.stderr)
        elif args.command == "detect":
            from alertflow.dataflows.detect import detect_csv

            detect_csv(args.csv, load_config(args.config))
        elif args.command == "simulate":
            from alertflow.dataflows.demo import describe_simulation
            from alertflow.dataflows.sinks import writable_directory
            from alertflow.operators.simulate import Situations, simulate

            situations = (
                Situations.every()
                if args.all_situations
                else Situations(
                    args.overlapping,
                    args.group_interval,
                    args.root_for,
                    args.infrastructure,
                    args.always_firing,
                    args.cold_start,
                )
            )
            summary = simulate(
                writable_directory(args.out, "--out"),
                seed=args.seed,
                services=args.services,
                duration_s=int(args.hours * 3600),
                incidents=args.incidents,
                noise_alerts=args.noise_alerts,
                clusters=args.clusters,
                situations=situations,
            )
            print(describe_simulation(summary))
            if args.trends:
                from alertflow.operators.simulate.trends import write_trends

                lines = write_trends(summary.out_dir, args.seed, args.trends, args.hours / 24)
                print(f"trends: {args.trends} series, {lines} samples in trends.jsonl")
        elif args.command == "demo":
            from alertflow.dataflows.demo import run_demo
            from alertflow.dataflows.sinks import writable_directory

            run_demo(writable_directory(args.out, "--out"), seed=args.seed, verbose=args.verbose)
        elif args.command == "incidents":
            from alertflow.dataflows.incident_view import print_incidents

            print_incidents(args.target, as_json=args.json)
        elif args.command in ("silence", "notify"):
            from alertflow.dataflows.cli_notify import run as run_notify

            run_notify(args)
        elif args.command == "serve":
            run_serve(args)
        elif args.command == "export":
            run_export(args)
        elif args.command == "logs":
            from alertflow.dataflows.log_templates import print_templates

            print_templates(args.file, as_json=args.json)
        elif args.command == "audit":
            from alertflow.dataflows.audit_verify import verify_source

            return verify_source(args.source)
        elif args.command == "train":
            from alertflow.dataflows.cli_train import run as run_train

            run_train(args)
    except AlertflowError as exc:
        print(f"alertflow: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file that vanished or filled the disk mid-command: one line
        print(f"alertflow: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # Bytewax wraps what a source or sink raised in its own runtime errors.
        cause = _alertflow_cause(exc)
        if cause is None:
            raise
        print(f"alertflow: error: {cause}", file=sys.stderr)
        return 2
    return 0


def _alertflow_cause(exc: BaseException) -> AlertflowError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AlertflowError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


if __name__ == "__main__":
    sys.exit(main())
