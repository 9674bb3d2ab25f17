"""Health of the job itself: Prometheus metrics, ``/livez`` and ``/readyz`` on one HTTP port.

Nothing here runs per record. Input, output and dead-letter counts are the run
summary's per-batch counters, read when Prometheus scrapes; latency is binned a
batch at a time with numpy; state sizes are ``len()`` of the stateful steps' dicts,
also taken at scrape time.
"""

import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from alertflow.dataflows.run_summary import RunSummary
from alertflow.dataflows.shutdown import REQUESTED
from alertflow.operators.decisions import Decision
from alertflow.operators.score_block import ScoreBlock
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

# Read-to-output latency buckets, in seconds (Prometheus' defaults, stretched to a minute:
# a correlation window holds an incident version back for tens of seconds).
LATENCY_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _ErrorCounts:
    """Producer errors by kind; librdkafka's callbacks call :meth:`add` from its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        """Count one error of ``kind`` (client, delivery, undelivered)."""
        with self._lock:
            self.counts[kind] += 1

    def snapshot(self) -> dict[str, int]:
        """A copy, safe to read while callbacks run."""
        with self._lock:
            return dict(self.counts)


PRODUCER_ERRORS = _ErrorCounts()

# Every stateful step's logic registers itself here (one per key); gone keys drop out.
LIVE_STATE: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _read_ns(decisions: list[Decision]) -> Iterator[int]:
    """When each record's newest input was read, a block's records one by one."""
    for d in decisions:
        if type(d) is ScoreBlock:
            yield from d.read_ns()
        else:
            yield d.read_ns


def _size(obj: Any, *path: str) -> int | None:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return len(obj)


# What each stateful step holds, by logic class: (metric label, path to a sized container).
_STATE_ITEMS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ShardScoringLogic": (("series", ("scorer", "scorers")),),
    "IncidentLogic": (("incidents", ("correlator", "grouper", "incidents")),),
    "ServiceWindowLogic": (("service_windows", ("windows", "windows")),),
    "EdgeJoinLogic": (
        ("pending_client_spans", ("join", "clients")),
        ("pending_server_spans", ("join", "servers")),
    ),
    "LogPatternLogic": (("log_templates", ("patterns", "templates")),),
    "FeedbackLogic": (("verdict_kinds", ("state", "learner", "verdicts")),),
}


def state_sizes() -> tuple[Counter[str], Counter[str]]:
    """Keys per stateful step (logic class) and items held, by kind."""
    for _ in range(5):  # a worker adding a key mid-iteration: read again
        try:
            live = list(LIVE_STATE)
            break
        except RuntimeError:
            continue
    else:
        live = []
    keys: Counter[str] = Counter()
    items: Counter[str] = Counter()
    for logic in live:
        name = type(logic).__name__
        keys[name] += 1
        for label, path in _STATE_ITEMS.get(name, ()):
            size = _size(logic, *path)
            if size is not None:
                items[label] += size
    return keys, items


class JobMetrics(Collector):
    """The job's Prometheus metrics, built at scrape time from counters the flow keeps anyway."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        self._lock = threading.Lock()
        self._bounds_ns = np.array([b * 1e9 for b in LATENCY_BUCKETS_S])
        self._latency_counts = np.zeros(len(LATENCY_BUCKETS_S) + 1, dtype=np.int64)
        self._latency_sum_s = 0.0
        self.ready = threading.Event()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, _step_id: str, decisions: list[Decision]) -> None:
        """An ``op.inspect`` callback: bin the read-to-output latency of a batch at once."""
        now = time.time_ns()
        read = np.fromiter(_read_ns(decisions), dtype=np.int64)
        latency = now - read[read > 0]
        if not latency.size:
            return
        bins = np.bincount(
            np.searchsorted(self._bounds_ns, latency), minlength=len(self._latency_counts)
        )
        with self._lock:
            self._latency_counts += bins
            self._latency_sum_s += float(latency.sum()) / 1e9

    def collect(self) -> Iterator[Any]:
        """Every metric, read now."""
        yield from self._flow_counts()
        with self._lock:
            counts, total_s = self._latency_counts.copy(), self._latency_sum_s
        cumulative = np.cumsum(counts)
        buckets = [(str(b), int(c)) for b, c in zip(LATENCY_BUCKETS_S, cumulative, strict=False)]
        buckets.append(("+Inf", int(cumulative[-1])))
        yield HistogramMetricFamily(
            "alertflow_processing_latency_seconds",
            "Time from reading a decision's newest input to handing the decision to the outputs.",
            buckets=buckets,
            sum_value=total_s,
        )
        yield _labelled(
            CounterMetricFamily, "alertflow_producer_errors",
            "Kafka producer errors: client (broker connection), delivery (a failed report), "
            "undelivered (a batch given up).", "kind", PRODUCER_ERRORS.snapshot(),
        )
        yield from self._state()
        up = GaugeMetricFamily("alertflow_ready", "1 once the inputs answered, 0 while stopping.")
        up.add_metric([], 1.0 if self.is_ready() else 0.0)
        yield up

    def _flow_counts(self) -> Iterator[Any]:
        records_in, outputs, dead = self.summary.counts()
        yield _labelled(CounterMetricFamily, "alertflow_input_messages",
                        "Messages read, per input stream.", "stream", records_in)
        yield _labelled(CounterMetricFamily, "alertflow_output_records",
                        "Records emitted, per output stream.", "stream", outputs)
        yield _labelled(CounterMetricFamily, "alertflow_dead_letters",
                        "Input messages sent to dlq, per input stream.", "stream", dead)

    def _state(self) -> Iterator[Any]:
        keys, items = state_sizes()
        yield _labelled(GaugeMetricFamily, "alertflow_state_keys",
                        "Keys with state, per stateful step.", "step", keys)
        yield _labelled(GaugeMetricFamily, "alertflow_state_items",
                        "What the state holds, by kind.", "kind", items)

    def is_ready(self) -> bool:
        """Inputs answered and no stop requested."""
        return self.ready.is_set() and not REQUESTED.is_set()

    def serve(self, port: int, host: str) -> ThreadingHTTPServer:
        """Answer /metrics, /livez and /readyz on ``host:port`` from a daemon thread."""
        server = ThreadingHTTPServer((host, port), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        return server


def _handler(metrics: JobMetrics) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[], tuple[int, bytes, str]]] = {
        "/metrics": lambda: (200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST),
        # Alive while the engine's thread is: a wedged job is caught by readiness and alerts.
        "/livez": lambda: (
            (200, b"ok\n", "text/plain")
            if threading.main_thread().is_alive()
            else (503, b"engine thread ended\n", "text/plain")
        ),
        "/readyz": lambda: (
            (200, b"ready\n", "text/plain")
            if metrics.is_ready()
            else (503, b"stopping\n" if REQUESTED.is_set() else b"starting\n", "text/plain")
        ),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            status, body, kind = route() if route else (404, b"not found\n", "text/plain")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would flood stderr

    return Handler


def _labelled(family: Any, name: str, doc: str, label: str, counts: Mapping[str, float]) -> Any:
    """A one-label metric family with a sample per key of ``counts``, in key order."""
    metric = family(name, doc, labels=[label])
    for value, n in sorted(counts.items()):
        metric.add_metric([value], n)
    return metric
