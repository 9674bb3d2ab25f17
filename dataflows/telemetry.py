"""Observability of the job itself: the tracer for decision spans, in-job latency stats."""

import atexit
import os
import threading
import time
from collections import Counter
from pathlib import Path

from alertflow.operators.decisions import Decision
from alertflow.operators.latency import LatencyHistogram
from alertflow.operators.score_block import ScoreBlock
from alertflow.schemas.config import ConfigError, TracingConfig
from alertflow.schemas.jsoncodec import dumps
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)


def tracer_provider_for(config: TracingConfig) -> TracerProvider | None:
    """The provider the config asks for, or None when tracing is off."""
    if config.exporter == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    if config.exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        return provider
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            "tracing.exporter = otlp needs the OTLP exporter: pip install 'alertflow[otlp]'"
        ) from None
    exporter = OTLPSpanExporter(endpoint=config.endpoint) if config.endpoint else OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class LatencyStats:
    """Counts decisions and their read-to-sink latency; a thread rewrites a JSON file each second.

    One file per process (``<stats_file>.<pid>.json``) so processes never clash;
    readers merge the histograms.
    """

    def __init__(self, stats_file: Path, interval_s: float = 1.0) -> None:
        self.path = stats_file.with_name(f"{stats_file.name}.{os.getpid()}.json")
        self.interval_s = interval_s
        self.histogram = LatencyHistogram()
        self.per_stream: dict[str, int] = {}
        self._writer: threading.Thread | None = None

    def record(self, decision: Decision) -> Decision:
        """Count the decision and pass it on unchanged."""
        self.record_all([decision])
        return decision

    def record_all(self, decisions: list[Decision]) -> list[Decision]:
        """Count a batch of decisions and pass it on unchanged (the clock is read once)."""
        now_ns = time.time_ns()
        add_ms = self.histogram.add_ms
        per_stream = self.per_stream
        for decision in decisions:
            if type(decision) is ScoreBlock:
                # A poll's samples share their read stamp: one count per distinct stamp.
                for read_ns, n in Counter(decision.read_ns()).items():
                    if read_ns:
                        add_ms((now_ns - read_ns) / 1e6, n)
                per_stream["scores"] = per_stream.get("scores", 0) + len(decision)
                continue
            if decision.read_ns:
                add_ms((now_ns - decision.read_ns) / 1e6)
            per_stream[decision.stream] = per_stream.get(decision.stream, 0) + 1
        if self._writer is None:
            self._writer = threading.Thread(target=self._dump_forever, daemon=True)
            self._writer.start()
            atexit.register(self.dump)
        return decisions

    def _dump_forever(self) -> None:
        while True:
            self.dump()
            time.sleep(self.interval_s)

    def dump(self) -> None:
        """Write the current figures atomically."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(
            dumps({"per_stream": self.per_stream, "latency_counts": self.histogram.counts})
        )
        tmp.replace(self.path)
