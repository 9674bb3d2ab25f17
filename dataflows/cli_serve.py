"""The ``serve`` and ``export`` commands of the ``alertflow`` CLI."""

import argparse
import sys
from pathlib import Path
from typing import Any

from alertflow.schemas.config import ConfigError, load_config
from alertflow.schemas.serve_config import ADMIN_TOKEN_ENV, ServeConfig

_STORE_HELP = "sqlite:///PATH (default: sqlite:///alertflow.db) or postgresql://USER@HOST/DB"


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6).

    >>> host_port("0.0.0.0:8080"), host_port("[::1]:9")
    (('0.0.0.0', 8080), ('::1', 9))
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def add_serve(sub: Any, input_pair: Any, setting: Any) -> None:
    """``alertflow serve``."""
    serve = sub.add_parser(
        "serve",
        help="run the flow with its HTTP API: Alertmanager webhook, incidents, analytics",
        description="Run the flow and its HTTP side in one process until SIGTERM/SIGINT. "
        "By default alerts and events posted over HTTP go through bounded in-process queues "
        "and results into the store; with --input STREAM=kafka://... the flow reads those "
        f"topics and HTTP intake produces to them. {ADMIN_TOKEN_ENV} in the environment "
        "creates an admin API token at start; there is no default token.",
    )
    serve.add_argument("--http", type=host_port, default=("127.0.0.1", 8080), metavar="HOST:PORT",
                       help="where the API listens (default: 127.0.0.1:8080)")
    serve.add_argument("--store", metavar="URL", help=_STORE_HELP)
    serve.add_argument("--input", action="append", type=input_pair, default=[],
                       metavar="STREAM=URI",
                       help="more inputs as for 'run', e.g. alerts=kafka://host:9092/alerts "
                       "(default: HTTP intake only)")
    serve.add_argument("--output", metavar="URI",
                       help="also write outputs here as 'run' does (default: the store only)")
    serve.add_argument("--config", type=Path, metavar="FILE",
                       help="YAML or TOML flow settings (default: built-in)")
    serve.add_argument("--set", action="append", type=setting, default=[], metavar="KEY=VALUE",
                       help="override one flow setting, repeatable (default: none)")
    serve.add_argument("--queue-size", type=int, metavar="N",
                       help="messages per stream waiting for the flow before intake answers "
                       f"503 (default: {ServeConfig.model_fields['queue_size'].default})")
    serve.add_argument("--retention-days", type=float, metavar="D",
                       help="delete stored records older than D days (default: keep all)")


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` pairs, and the ``--input STREAM=URI`` flags gathered into ``inputs``."""
    overrides: dict[str, Any] = dict(args.set)
    if args.input:
        inputs: dict[str, list[str]] = {}
        for stream, uri in args.input:
            inputs.setdefault(stream, []).append(uri)
        overrides["inputs"] = inputs
    return overrides


def run_serve(args: argparse.Namespace) -> None:
    """Start ``alertflow serve``."""
    from alertflow.dataflows.serve import serve

    overrides = setting_overrides(args)
    if args.output:
        overrides["output"] = args.output
    config = load_config(args.config, overrides)
    host, port = args.http
    fields = {"host": host, "port": port, "store": args.store, "queue_size": args.queue_size,
              "retention_days": args.retention_days}
    settings = ServeConfig(**{k: v for k, v in fields.items() if v is not None})
    print(f"alertflow: serving on http://{host}:{port} (store {settings.store})", file=sys.stderr)
    serve(settings, config)


def add_export(sub: Any) -> None:
    """``alertflow export``."""
    from alertflow.store.export_kinds import FORMATS, WHATS

    export = sub.add_parser(
        "export",
        help="export stored incidents, anomalies or predictions as JSON, CSV or Parquet",
        description="Stream records from the store into a file, a batch at a time (JSON is "
        "JSON Lines). Incidents are selected by when they opened, others by their time.",
    )
    export.add_argument("--what", required=True, choices=WHATS, help="required: what to export")
    export.add_argument("--format", default="json", choices=FORMATS,
                        help="file format (default: %(default)s)")
    export.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="required: the file to write ('-' for stdout, json and csv only)")
    export.add_argument("--from", dest="from_", metavar="TIME",
                        help="RFC 3339 or epoch, inclusive (default: the beginning)")
    export.add_argument("--to", metavar="TIME", help="RFC 3339 or epoch, exclusive "
                        "(default: no end)")
    export.add_argument("--store", metavar="URL", help=_STORE_HELP)


def run_export(args: argparse.Namespace) -> None:
    """Run ``alertflow export``; prints how many records it wrote."""
    from alertflow.schemas.errors import DecodeError
    from alertflow.schemas.timefmt import coerce_epoch_ns
    from alertflow.store import export
    from alertflow.store.engine import open_store

    try:
        start = 0 if args.from_ is None else coerce_epoch_ns(args.from_)
        end = 2**62 if args.to is None else coerce_epoch_ns(args.to)
    except DecodeError as exc:
        raise ConfigError(f"--from/--to: {exc}") from None
    engine = open_store(args.store or ServeConfig().store)
    chunks = export.batches(engine, args.what, start, end)
    if str(args.out) == "-":
        if args.format == "parquet":
            raise ConfigError("--out -: parquet needs a file")
        count = export.write(sys.stdout.buffer, args.what, args.format, chunks)
    else:
        with args.out.open("wb") as out:
            count = export.write(out, args.what, args.format, chunks)
    print(f"alertflow: exported {count} {args.what} to {args.out}", file=sys.stderr)
