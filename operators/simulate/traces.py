"""Sampled request traces that walk the call graph, as OTLP JSON export requests.

Each call is a client span in the caller wrapping a server span in the
callee. Durations and failures come from the callee's metrics at that moment,
so traces slow down and fail during incidents; a service that is down
refuses connections, which leaves a failed client span and no server span.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass

from alertflow.operators.simulate.config import NS_PER_MS, NS_PER_S, SimulationConfig, hex_id
from alertflow.operators.simulate.metrics import ERRORS, P99, MetricGrid
from alertflow.operators.simulate.topology import Topology

SERVER, CLIENT = 2, 3
TRACES_PER_MINUTE = 2.0
_CALL_PROBABILITY = 0.6
_ERROR_PASSES_UP = 0.8


@dataclass(frozen=True, slots=True)
class Span:
    """One span before it is rendered; ``failure`` says why it failed ("" if it did not)."""

    service: str
    cluster: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    failure: str  # "", "internal", "refused" or "upstream:<callee>"


@dataclass(slots=True)
class _Walk:
    """State of one trace being drawn."""

    rng: random.Random
    grid: MetricGrid
    topo: Topology
    cluster: int
    trace_id: str
    spans: list[Span]


def _serve(
    walk: _Walk, service: str, operation: str, start_ns: int, parent_id: str
) -> tuple[int, bool]:
    """Draw the server span of ``service`` and its downstream calls; return (end, failed)."""
    rng, topo, cluster = walk.rng, walk.topo, walk.topo.clusters[walk.cluster]
    s = topo.index[service]
    own_ns = int(walk.grid.at(P99, walk.cluster, s, start_ns) * rng.uniform(0.1, 0.45) * NS_PER_S)
    span_id = hex_id(rng, 64)
    cursor = start_ns + own_ns // 3
    failed_callee = ""
    for callee in topo.callees[service]:
        if rng.random() >= _CALL_PROBABILITY:
            continue
        client_id = hex_id(rng, 64)
        net_ns = rng.randint(200, 1500) * 1000
        called = rng.choice(topo.services[topo.index[callee]].operations)
        if walk.grid.down[walk.cluster, topo.index[callee], walk.grid.step_of(cursor)] > 0.5:
            end_ns, failure = cursor + rng.randint(1, 3) * NS_PER_MS, "refused"
        else:
            served_end, callee_failed = _serve(walk, callee, called, cursor + net_ns, client_id)
            end_ns = served_end + net_ns
            failure = "upstream:" + callee if callee_failed else ""
        walk.spans.append(
            Span(service, cluster, walk.trace_id, client_id, span_id, called, CLIENT,
                 cursor, end_ns, failure)
        )  # fmt: skip
        if failure and not failed_callee:
            failed_callee = callee
        cursor = end_ns
    end_ns = cursor + own_ns - own_ns // 3
    failure = ""
    if failed_callee and rng.random() < _ERROR_PASSES_UP:
        failure = "upstream:" + failed_callee
    elif rng.random() < walk.grid.at(ERRORS, walk.cluster, s, start_ns):
        failure = "internal"
    walk.spans.append(
        Span(service, cluster, walk.trace_id, span_id, parent_id, operation, SERVER,
             start_ns, end_ns, failure)
    )  # fmt: skip
    return end_ns, bool(failure)


def _request(spans: list[Span], topo: Topology) -> dict[str, object]:
    """Group a trace's spans by service into one ExportTraceServiceRequest."""
    by_service: dict[str, list[dict[str, object]]] = {}
    for span in sorted(spans, key=lambda sp: (sp.start_ns, sp.kind)):
        status: dict[str, object] = {"code": 2 if span.failure else 0}
        if span.failure:
            status["message"] = span.failure
        by_service.setdefault(span.service, []).append(
            {
                "traceId": span.trace_id,
                "spanId": span.span_id,
                "parentSpanId": span.parent_id,
                "name": span.name,
                "kind": span.kind,
                "startTimeUnixNano": str(span.start_ns),
                "endTimeUnixNano": str(span.end_ns),
                "status": status,
            }
        )
    cluster = spans[0].cluster
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {
                            "key": "service.namespace",
                            "value": {"stringValue": topo.services[topo.index[service]].namespace},
                        },
                        {"key": "k8s.cluster.name", "value": {"stringValue": cluster}},
                    ]
                },
                "scopeSpans": [{"scope": {"name": "sim"}, "spans": entries}],
            }
            for service, entries in by_service.items()
        ]
    }


def generate_traces(
    cfg: SimulationConfig, topo: Topology, grid: MetricGrid
) -> list[tuple[int, list[Span]]]:
    """Every sampled trace as (start, spans), in start order."""
    rng = cfg.rng("traces")
    per_step = cfg.np_rng("traces").poisson(
        TRACES_PER_MINUTE * cfg.step_s / 60, (len(grid.times_ns), len(topo.clusters))
    )
    frontends = topo.in_tier("frontend")
    traces: list[tuple[int, list[Span]]] = []
    for t, step_start in enumerate(grid.times_ns.tolist()):
        for c in range(len(topo.clusters)):
            starts = sorted(rng.randrange(cfg.step_ns) for _ in range(int(per_step[t, c])))
            for offset in starts:
                walk = _Walk(rng, grid, topo, c, hex_id(rng, 128), [])
                entry = rng.choice(frontends)
                _serve(walk, entry.name, rng.choice(entry.operations), step_start + offset, "")
                traces.append((step_start + offset, walk.spans))
    traces.sort(key=lambda item: item[0])
    return traces


def failed_spans(traces: list[tuple[int, list[Span]]]) -> list[Span]:
    """The spans that ended in an error, for the logs that report them."""
    return [span for _, spans in traces for span in spans if span.failure]


def trace_requests(
    traces: list[tuple[int, list[Span]]], topo: Topology
) -> Iterator[dict[str, object]]:
    """One OTLP ExportTraceServiceRequest per trace, rendered as it is written."""
    for _, spans in traces:
        yield _request(spans, topo)
