"""Series derived from traces and logs, so the same scorer watches them.

Per service and tumbling event-time window: from server spans the request
count, error ratio, mean duration and duration p50/p99 (RED); per edge
``caller -> callee`` (calls joined in ``operators.trace_edges``, kept under the
caller) the same four from the caller's side, for at most ``max_edges``
callees per service; from logs the count of lines per level. Percentiles come
from a :class:`~operators.quantile_sketch.QuantileSketch` (within 1%). A window
without spans emits no trace sample beyond the zero request count, so a quiet
window is missing for the percentiles and edges, not zero. A window is emitted
once the watermark (newest event minus the lateness bound) passes its end;
events for an already emitted window are counted in ``late`` and dropped,
since the sample they belong to is out.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from alertflow.operators.eventclock import EventClock
from alertflow.operators.quantile_sketch import QuantileSketch
from alertflow.operators.trace_edges import EdgeCall
from alertflow.schemas.records import LogEvent, MetricSample, SpanEvent
from alertflow.schemas.timefmt import NS_PER_S

_REQUEST_KINDS = ("server", "consumer")


ServiceEvent = SpanEvent | LogEvent | EdgeCall


@dataclass(slots=True)
class _Calls:
    requests: int = 0
    errors: int = 0
    duration_ns: int = 0
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    slowest_ns: int = -1
    evidence: str = ""  # ref of the first failed span, else of the slowest one
    failed: bool = False

    def add(self, duration_ns: int, is_error: bool, ref: str) -> None:
        self.requests += 1
        self.errors += is_error
        self.duration_ns += duration_ns
        self.sketch.add(duration_ns / NS_PER_S)
        if not self.failed and (is_error or duration_ns > self.slowest_ns):
            self.evidence, self.failed = ref, is_error
            self.slowest_ns = max(self.slowest_ns, duration_ns)


@dataclass(slots=True)
class _Window:
    served: _Calls = field(default_factory=_Calls)
    edges: dict[str, _Calls] = field(default_factory=dict)  # by callee
    log_levels: dict[str, int] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)
    read_ns: int = 0


_CLUSTER_ATTRIBUTES = ("cluster", "k8s.cluster.name", "k8s_cluster_name")
_MAX_ZERO_WINDOWS = 60  # a service silent longer than this is gone, not idle
MAX_EDGES = 32  # callees per service with series of their own: 4 series each


def service_key(event: ServiceEvent, default_cluster: str = "default") -> str:
    """``cluster/service``: the key windows are kept under."""
    return f"{cluster_of(event, default_cluster)}/{event.service}"


def cluster_of(event: ServiceEvent, default: str = "default") -> str:
    """The cluster an event's resource names, by the usual attribute names."""
    for name in _CLUSTER_ATTRIBUTES:
        value = event.attributes.get(name)
        if value:
            return value
    return default


class ServiceWindows:
    """One service's open windows of span and log aggregates.

    >>> w = ServiceWindows("cart", "c1", window_s=60, lateness_s=0)
    >>> span = SpanEvent("t", "s", "", "cart", "GET /", "server", 0, 2 * 10**8, False)
    >>> w.add([span])
    []
    >>> [(s.name, s.value) for s in w.flush()][:2]
    [('alertflow_requests', 1.0), ('alertflow_request_errors_ratio', 0.0)]
    """

    def __init__(
        self,
        service: str,
        cluster: str,
        window_s: float = 60.0,
        lateness_s: float = 60.0,
        max_edges: int = MAX_EDGES,
    ) -> None:
        self.service = service
        self.cluster = cluster
        self.window_ns = int(window_s * NS_PER_S)
        self.lateness_ns = int(lateness_s * NS_PER_S)
        self.windows: dict[int, _Window] = {}
        self.clock = EventClock(self.lateness_ns)
        self.closed_before_ns = 0
        self.seen_requests = False
        self.late = 0
        self.max_edges = max_edges
        self.callees: set[str] = set()  # those with series; the first max_edges seen
        self.edges_dropped = 0  # calls to callees past the bound

    def add(self, events: Iterable[ServiceEvent], wall_ns: int = 0) -> list[MetricSample]:
        """Fold events in; return the samples of every window the watermark closed."""
        for event in events:
            ts = event.ts_ns if isinstance(event, LogEvent) else event.start_ns
            start = ts - ts % self.window_ns
            if start < self.closed_before_ns:
                self.late += 1
                continue
            window = self.windows.get(start)
            if window is None:
                window = self.windows[start] = _Window()
            self._fold(window, event)
            self.clock.observe(ts, wall_ns)
        return self.on_tick(wall_ns)

    def on_tick(self, wall_ns: int) -> list[MetricSample]:
        """Close the windows the watermark has passed (it advances with idle wall time)."""
        watermark = self.clock.watermark(wall_ns)
        return [] if watermark is None else self._close_until(watermark)

    def next_close_wall(self) -> int | None:
        """Wall time at which the oldest open window closes if nothing newer arrives."""
        if not self.windows:
            return None
        return self.clock.wall_when(min(self.windows) + self.window_ns)

    def flush(self) -> list[MetricSample]:
        """Emit every open window (end of a bounded input)."""
        return self._close_until(None)

    def _fold(self, window: _Window, event: ServiceEvent) -> None:
        if isinstance(event, SpanEvent):
            if event.kind not in _REQUEST_KINDS:
                return
            window.served.add(max(0, event.end_ns - event.start_ns), event.is_error, event.ref)
        elif isinstance(event, EdgeCall):
            calls = window.edges.get(event.callee)
            if calls is None:
                if event.callee not in self.callees and len(self.callees) >= self.max_edges:
                    self.edges_dropped += 1  # a bounded series count beats one more edge
                    return
                self.callees.add(event.callee)
                calls = window.edges[event.callee] = _Calls()
            calls.add(event.duration_ns, event.is_error, event.ref)
            return  # the caller's refs are its own requests', not its calls'
        else:
            window.log_levels[event.level] = window.log_levels.get(event.level, 0) + 1
        if len(window.refs) < 4:
            window.refs.append(event.ref)

    def _close_until(self, watermark: int | None) -> list[MetricSample]:
        out: list[MetricSample] = []
        for start in sorted(self.windows):
            end = start + self.window_ns
            if watermark is not None and end > watermark:
                break
            out.extend(self._silent_windows(start))
            out.extend(self._samples(end, self.windows.pop(start)))
            self.closed_before_ns = max(self.closed_before_ns, end)
        if watermark is not None:
            # Windows with no event at all close too: no traffic is a signal.
            last_end = watermark - watermark % self.window_ns
            out.extend(self._silent_windows(last_end))
            self.closed_before_ns = max(self.closed_before_ns, last_end)
        return out

    def _silent_windows(self, until_start: int) -> list[MetricSample]:
        """Zero-request samples for the empty windows between the last closed one and here."""
        if not self.seen_requests or not self.closed_before_ns:
            return []
        missing = (until_start - self.closed_before_ns) // self.window_ns
        if not 0 < missing <= _MAX_ZERO_WINDOWS:
            return []
        labels = {"service": self.service, "cluster": self.cluster}
        first_end = self.closed_before_ns + self.window_ns
        return [
            MetricSample("alertflow_requests", dict(labels), first_end + i * self.window_ns, 0.0)
            for i in range(missing)
        ]

    def _samples(self, end_ns: int, window: _Window) -> list[MetricSample]:
        labels = {"service": self.service, "cluster": self.cluster}
        ref = window.refs[0] if window.refs else ""
        values: list[tuple[str, dict[str, str], float, str]] = []
        served = window.served
        if served.requests:
            self.seen_requests = True
            # The percentiles point at a span: the first failed one, else the slowest.
            span = served.evidence
            values += [
                ("alertflow_requests", labels, float(served.requests), ref),
                ("alertflow_request_errors_ratio", labels, served.errors / served.requests, ref),
                (
                    "alertflow_request_duration_mean_seconds",
                    labels,
                    served.duration_ns / served.requests / NS_PER_S,
                    ref,
                ),
                *_percentiles("alertflow_request_duration", labels, served.sketch, span),
            ]
        for callee, calls in sorted(window.edges.items()):
            # Errors and latency are the callee's health as its caller sees it: an anomaly
            # there points at the callee. The call rate is the caller's traffic: at the caller.
            edge = {"service": callee, "cluster": self.cluster, "caller": self.service,
                    "callee": callee}  # fmt: skip
            rate = {**edge, "service": self.service}
            span = calls.evidence  # the caller's client span of a failed (or the slowest) call
            values += [
                ("alertflow_edge_requests", rate, float(calls.requests), span),
                ("alertflow_edge_errors_ratio", edge, calls.errors / calls.requests, span),
                *_percentiles("alertflow_edge_request_duration", edge, calls.sketch, span),
            ]
        for level, count in sorted(window.log_levels.items()):
            values.append(("alertflow_log_lines", {**labels, "level": level}, float(count), ref))
        return [MetricSample(name, dict(lbls), end_ns, value, r) for name, lbls, value, r in values]


def _percentiles(prefix: str, labels: dict, sketch: QuantileSketch, span: object) -> list[tuple]:
    """The p50 and p99 samples of one window's durations, in seconds."""
    return [(f"{prefix}_p{round(q * 100)}_seconds", labels, sketch.quantile(q), span)
            for q in (0.5, 0.99)]
