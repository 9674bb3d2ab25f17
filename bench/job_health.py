"""What the job's own health costs: --metrics-port and tracing against the plain flow.

Run from the repository root::

    .venv/bin/python -m bench.job_health            # 200 series x 300 samples, 3 repeats
    .venv/bin/python -m bench.job_health --quick    # smoke run

The same JSONL input (``scoring.emit_scores`` on, so every sample yields a decision
and the output path is as busy as it gets) runs in-process through ``build_flow``
with the run summary the CLI always keeps, (a) alone, (b) with ``JobMetrics`` (what
``--metrics-port`` adds; a scrape thread reads it every 50 ms, far more often than
Prometheus would), (c) with tracing to an in-memory exporter. Configurations take
turns within each repeat; the table gives the median wall time and its ratio to (a).
"""

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from alertflow.dataflows.flow import build_flow
from alertflow.dataflows.job_metrics import JobMetrics
from alertflow.dataflows.run_summary import RunSummary
from alertflow.schemas.config import load_config
from bytewax.testing import run_main
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest

_BASE = datetime(2026, 11, 25, tzinfo=UTC)


def _write_input(path: Path, series: int, points: int) -> int:
    with path.open("wb") as out:
        for j in range(points):
            for s in range(series):
                value = 10.0 + (s % 7) + (j % 13) * 0.1 + (25.0 if j == points - 5 else 0.0)
                out.write(orjson.dumps({
                    "name": "cpu", "labels": {"instance": f"h{s}", "job": "node"},
                    "timestamp": (_BASE + timedelta(minutes=j)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "value": str(value),
                }) + b"\n")  # fmt: skip
    return series * points


def _once(kind: str, source: Path, out: Path) -> float:
    config = load_config(None, {
        "inputs": {"metrics": [str(source)]}, "output": str(out), "scoring.emit_scores": True,
    })  # fmt: skip
    summary = RunSummary()
    metrics = JobMetrics(summary) if kind == "metrics" else None
    provider = None
    if kind == "tracing":
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    stop = threading.Event()
    if metrics is not None:

        def scrape() -> None:
            while not stop.wait(0.05):
                generate_latest(metrics.registry)

        threading.Thread(target=scrape, daemon=True).start()
    flow = build_flow(config, tracer_provider=provider, summary=summary, metrics=metrics)
    start = time.perf_counter()
    run_main(flow)
    elapsed = time.perf_counter() - start
    stop.set()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    series, points = (50, 120) if args.quick else (200, 300)
    kinds = ("plain", "metrics", "tracing")
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "metrics.jsonl"
        n = _write_input(source, series, points)
        _once("plain", source, Path(tmp) / "warm")  # numba compiles, caches warm
        for r in range(args.repeats):
            order = kinds[r % 3 :] + kinds[: r % 3]
            for kind in order:
                times[kind].append(_once(kind, source, Path(tmp) / f"out-{kind}-{r}"))
    base = statistics.median(times["plain"])
    print(f"{n} samples ({series} series x {points}), scores on; median of {args.repeats}")
    print(f"| {'configuration':32} | {'median s':>8} | {'vs plain':>8} | {'samples/s':>9} |")
    print(f"|{'-' * 34}|{'-' * 10}:|{'-' * 10}:|{'-' * 11}:|")
    labels = {
        "plain": "(a) flow + run summary",
        "metrics": "(b) + JobMetrics, scraped 20/s",
        "tracing": "(c) + tracing (in-memory)",
    }
    for kind in kinds:
        t = statistics.median(times[kind])
        print(f"| {labels[kind]:32} | {t:8.2f} | {t / base:8.3f} | {n / t:9.0f} |")


if __name__ == "__main__":
    main()
