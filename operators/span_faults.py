"""The deepest failing span of each trace: where a request really failed, as correlation evidence.

A failure climbs a call graph: the callee's server span errs, the caller's client
span errs on it, then the caller's own server span, up to the entry point. Each
of those spans is *failing*; only the lowest one, a failing span with no failing
child, is where the request failed. So per trace every failing span without a
failing child is a *fault* of its service, and the services of its failing
ancestors failed because of it (its ``callers``).

A span fails when its status is an error, or when it is a latency outlier: longer
than ``slow_factor`` times the p99 of its operation (service, kind, name), learned
in a :class:`~operators.quantile_sketch.QuantileSketch` from that operation's
earlier spans that were not outliers (after ``min_samples`` of them; before, only
errors count). A failing client span with no server span under it (the callee
refused, or is not instrumented) is a fault of the callee: named by
``peer.service``, else by the callee that earlier calls of the same client
operation reached.

Spans of a trace arrive in any order and in several messages, so a trace is
judged once no span of it ended within ``wait_s`` of event time before the
newest span seen (or when ``max_traces`` are pending, or at the end of input).
The faults of one batch become one :class:`SpanSignal` per service, which the
grouper folds into a member of kind ``span`` (:func:`apply_span`).
"""

from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from alertflow.operators.correlation.alert_dedup import (
    MAX_REFS,
    AlertMember,
    Change,
    evidence_change,
)
from alertflow.operators.quantile_sketch import QuantileSketch
from alertflow.operators.red_metrics import cluster_of
from alertflow.operators.restorable import Restorable
from alertflow.operators.trace_edges import PEER_SERVICE
from alertflow.schemas.jsoncodec import dumps, loads
from alertflow.schemas.records import SpanEvent
from alertflow.schemas.timefmt import NS_PER_S

SPAN_PREFIX = "span:"  # member fingerprints of a service's trace faults
_CLIENT_KINDS = ("client", "producer")
_REFRESH = 16  # an operation's p99 is read again after this many more spans


@dataclass(frozen=True, slots=True)
class SpanFaultSettings:
    """How traces are judged; see the module docstring."""

    wait_s: float = 30.0
    slow_factor: float = 1.5
    min_samples: int = 20
    max_traces: int = 20_000
    max_operations: int = 10_000


@dataclass(frozen=True, slots=True)
class SpanFault:
    """One trace's deepest failing span, as evidence about ``service``."""

    cluster: str
    service: str  # where it failed: the span's service, or the callee of a failed call
    trace_id: str
    span_id: str
    span_service: str  # whose span it is (the caller's, for a call nobody answered)
    operation: str
    error: bool
    duration_ns: int
    end_ns: int
    slow_over_ns: int = 0  # the outlier bound it exceeded (0: not slow)
    callers: tuple[str, ...] = ()  # services whose spans failed because of it, nearest first
    ref: str = ""

    def describe(self) -> str:
        """A human line naming the span: trace, span, service, operation, status, duration."""
        status = "error" if self.error else "ok"
        slow = f", over {self.slow_over_ns / NS_PER_S:.3g}s" if self.slow_over_ns else ""
        whose = "" if self.span_service == self.service else f" (call from {self.span_service})"
        return (
            f"trace {self.trace_id} span {self.span_id}: {self.span_service} "
            f'"{self.operation}"{whose} status {status}, {self.duration_ns / NS_PER_S:.3g}s{slow}'
        )


@dataclass(frozen=True, slots=True)
class SpanSignal:
    """A batch's trace faults of one service on their way to correlation."""

    cluster: str
    service: str
    first_ns: int
    last_ns: int
    count: int
    example: SpanFault  # the first with an error status, else the slowest
    callers: tuple[tuple[str, int], ...]  # (service failing because of these, how often)
    ref: str
    read_ns: int = 0

    @property
    def fingerprint(self) -> str:
        """The member key: the service's trace faults."""
        return f"{SPAN_PREFIX}{self.cluster}/{self.service}"


@dataclass(slots=True)
class _Operation(Restorable):
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    bound_ns: int = 0  # slow_factor * p99, read every _REFRESH spans
    since_read: int = _REFRESH


@dataclass(slots=True)
class _Trace:
    spans: dict[str, SpanEvent] = field(default_factory=dict)
    last_end_ns: int = 0


class SpanFaultFinder:
    """Assembles traces and finds their deepest failing spans; one per correlation domain.

    >>> finder = SpanFaultFinder()
    >>> spans = [
    ...     SpanEvent("t1", "a", "", "web", "GET /", "server", 0, 9, True),
    ...     SpanEvent("t1", "b", "a", "web", "cart", "client", 1, 8, True),
    ...     SpanEvent("t1", "c", "b", "cart", "cart", "server", 2, 7, True),
    ... ]
    >>> [(f.service, f.span_id, f.callers) for f in finder.add(spans) + finder.flush()]
    [('cart', 'c', ('web',))]
    """

    def __init__(self, settings: SpanFaultSettings | None = None) -> None:
        self.settings = settings or SpanFaultSettings()
        self.traces: OrderedDict[str, _Trace] = OrderedDict()
        self.operations: OrderedDict[tuple[str, str, str], _Operation] = OrderedDict()
        # (caller, client span name) -> the service its server span was in: names a callee
        # that sent no span of its own (it refused the call, or is not instrumented).
        self.callee_of: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.newest_ns = 0

    def add(self, spans: Iterable[SpanEvent]) -> list[SpanFault]:
        """Fold spans in; return the faults of the traces now complete."""
        for span in spans:
            trace = self.traces.get(span.trace_id)
            if trace is None:
                trace = self.traces[span.trace_id] = _Trace()
            trace.spans[span.span_id] = span
            trace.last_end_ns = max(trace.last_end_ns, span.end_ns)
            self.newest_ns = max(self.newest_ns, span.end_ns)
        out: list[SpanFault] = []
        horizon = self.newest_ns - int(self.settings.wait_s * NS_PER_S)
        # Traces are judged oldest first; one still open stops the scan (they end roughly
        # in the order they began), and the bound judges the oldest early.
        while self.traces:
            trace = next(iter(self.traces.values()))
            if trace.last_end_ns > horizon and len(self.traces) <= self.settings.max_traces:
                break
            out.extend(self._judge(self.traces.popitem(last=False)[1]))
        return out

    def flush(self) -> list[SpanFault]:
        """End of a bounded input: judge every pending trace."""
        out: list[SpanFault] = []
        while self.traces:
            out.extend(self._judge(self.traces.popitem(last=False)[1]))
        return out

    def _judge(self, trace: _Trace) -> list[SpanFault]:
        spans = trace.spans
        children: dict[str, list[SpanEvent]] = {}
        for span in spans.values():
            if span.parent_span_id in spans and span.parent_span_id != span.span_id:
                children.setdefault(span.parent_span_id, []).append(span)
        bounds = {sid: self._slow_bound(span) for sid, span in spans.items()}
        failing = {
            sid for sid, span in spans.items()
            if span.is_error or 0 < bounds[sid] < _duration(span)
        }  # fmt: skip
        self._learn(spans, children, failing)
        out = []
        for sid in sorted(failing, key=lambda s: (spans[s].start_ns, s)):
            if any(child.span_id in failing for child in children.get(sid, ())):
                continue
            out.append(self._fault(spans[sid], spans, failing, bounds[sid], sid not in children))
        return out

    def _fault(
        self,
        span: SpanEvent,
        spans: dict[str, SpanEvent],
        failing: set[str],
        bound_ns: int,
        leaf: bool,
    ) -> SpanFault:
        service = span.service
        if leaf and span.kind in _CLIENT_KINDS:
            callee = span.attributes.get(PEER_SERVICE) or self.callee_of.get((service, span.name))
            service = callee or service
        callers: list[str] = []
        seen = {span.span_id}  # parent ids are input: a cycle must not loop
        parent = spans.get(span.parent_span_id)
        while parent is not None and parent.span_id in failing and parent.span_id not in seen:
            seen.add(parent.span_id)
            if parent.service != service and parent.service not in callers:
                callers.append(parent.service)
            parent = spans.get(parent.parent_span_id)
        duration = _duration(span)
        return SpanFault(
            cluster=cluster_of(span),
            service=service,
            trace_id=span.trace_id,
            span_id=span.span_id,
            span_service=span.service,
            operation=span.name,
            error=span.is_error,
            duration_ns=duration,
            end_ns=span.end_ns,
            slow_over_ns=bound_ns if 0 < bound_ns < duration else 0,
            callers=tuple(callers),
            ref=span.ref,
        )

    def _slow_bound(self, span: SpanEvent) -> int:
        """The operation's outlier bound in ns; 0 while it has too few spans to tell."""
        op = self.operations.get((span.service, span.kind, span.name))
        if op is None or op.sketch.count < self.settings.min_samples:
            return 0
        if op.since_read >= _REFRESH:
            p99 = op.sketch.quantile(0.99)
            op.bound_ns = int(self.settings.slow_factor * p99 * NS_PER_S)
            op.since_read = 0
        return op.bound_ns

    def _learn(
        self, spans: dict[str, SpanEvent], children: dict[str, list[SpanEvent]], failing: set[str]
    ) -> None:
        """Normal spans teach their operation's latency; calls teach who answers them."""
        for sid, span in spans.items():
            if sid not in failing:
                key = (span.service, span.kind, span.name)
                op = self.operations.pop(key, None) or _Operation()
                self.operations[key] = op  # most recently seen last: the bound evicts the rest
                op.sketch.add(_duration(span) / NS_PER_S)
                op.since_read += 1
            if span.kind in _CLIENT_KINDS:
                for child in children.get(sid, ()):
                    if child.service != span.service:
                        self.callee_of[(span.service, span.name)] = child.service
        _bound(self.operations, self.settings.max_operations)
        _bound(self.callee_of, self.settings.max_operations)


def signals_of(faults: Iterable[SpanFault], read_ns: int = 0) -> list[SpanSignal]:
    """One signal per (cluster, service) of a batch's faults, in first-seen order."""
    grouped: dict[tuple[str, str], list[SpanFault]] = {}
    for fault in faults:
        grouped.setdefault((fault.cluster, fault.service), []).append(fault)
    out = []
    for (cluster, service), group in grouped.items():
        # An error status names the fault more surely than a slow span does.
        example = min(group, key=lambda f: (not f.error, -f.duration_ns, f.end_ns))
        callers = Counter(c for f in group for c in f.callers)
        out.append(
            SpanSignal(
                cluster=cluster,
                service=service,
                first_ns=min(f.end_ns for f in group),
                last_ns=max(f.end_ns for f in group),
                count=len(group),
                example=example,
                callers=tuple(sorted(callers.items())),
                ref=example.ref,
                read_ns=read_ns,
            )
        )
    return out


def apply_span(member: AlertMember | None, signal: SpanSignal) -> tuple[AlertMember, Change]:
    """Fold one signal into the service's member (kind ``span``), returning it and the change.

    The member's labels name its example span (``trace_id``, ``span_id``, ``operation``),
    so an incident's reader can open the trace; ``refs`` stay message positions.
    """
    if member is None:
        member = AlertMember(
            fingerprint=signal.fingerprint,
            labels={"service": signal.service, "cluster": signal.cluster},
            annotations={},
            first_ns=signal.first_ns,
            last_ns=signal.last_ns,
            status="firing",
            count=0,
            refs=[],
            kind="span",
            severity="info",
            title="deepest failing span",
        )
        change = Change.NEW
    else:
        change = evidence_change(member, False)
    member.count += signal.count
    member.first_ns = min(member.first_ns, signal.first_ns)
    member.last_ns = max(member.last_ns, signal.last_ns)
    if len(member.refs) < MAX_REFS and signal.ref:
        member.refs.append(signal.ref)
    callers = Counter(decode_callers(member.annotations.get("callers", "")))
    callers.update(dict(signal.callers))
    member.annotations["callers"] = dumps(dict(sorted(callers.items()))).decode()
    if "span_id" not in member.labels or (signal.example.error and member.labels["error"] != "1"):
        example = signal.example
        member.labels.update(
            trace_id=example.trace_id,
            span_id=example.span_id,
            operation=example.operation,
            error="1" if example.error else "0",
        )
        member.annotations["span"] = example.describe()
    member.annotations["description"] = (
        f"{member.count} trace(s) failed deepest here; e.g. {member.annotations['span']}"
    )
    # Strength grows with the traces that agree: 1 reads 0.25, 3 reads 0.5, 9 reads 0.75.
    member.score = member.count / (member.count + 3.0)
    return member, change


def decode_callers(text: str) -> dict[str, int]:
    """A member's ``callers`` annotation (JSON ``{service: traces}``) back to counts."""
    return loads(text) if text else {}


def _duration(span: SpanEvent) -> int:
    return max(0, span.end_ns - span.start_ns)


def _bound(table: OrderedDict, limit: int) -> None:
    while len(table) > limit:
        table.popitem(last=False)


@dataclass(frozen=True, slots=True)
class TraceVerdict:
    """What an incident's traces say about one service."""

    own: int = 0  # traces whose deepest failing span is in this service
    because_of: dict[str, int] = field(default_factory=dict)  # service below -> traces
    span: str = ""  # the example span of its own faults

    def evidence(self) -> tuple[str, ...]:
        """Sentences for the ranking's evidence, naming the span."""
        out = []
        if self.own:
            out.append(f"traces: {self.own} failed deepest here, no failing child; {self.span}")
        below = sorted(self.because_of.items(), key=lambda kv: (-kv[1], kv[0]))
        if below:
            named = ", ".join(f"{s} ({n})" for s, n in below[:3])
            out.append(f"traces: its spans failed because a call below failed: {named}")
        return tuple(out)


def trace_verdicts(by_service: dict[str, list[AlertMember]]) -> dict[str, TraceVerdict]:
    """Per service of an incident, its own trace faults and whose faults it failed by."""
    own: dict[str, int] = {}
    spans: dict[str, str] = {}
    below: dict[str, Counter] = {}
    for service, members in by_service.items():
        for m in members:
            if m.kind != "span":
                continue
            own[service] = own.get(service, 0) + m.count
            spans.setdefault(service, m.annotations.get("span", ""))
            for caller, n in decode_callers(m.annotations.get("callers", "")).items():
                below.setdefault(caller, Counter())[service] += n
    return {
        s: TraceVerdict(own.get(s, 0), dict(below.get(s, {})), spans.get(s, ""))
        for s in own.keys() | below.keys()
    }
