"""Plain JSON log lines: steady INFO chatter, the odd WARN, and error bursts in incidents.

Failed spans of sampled traces log an ERROR carrying their trace id, so logs
and traces can be joined; the bulk of an incident's errors come from
unsampled requests and carry ids of traces that were never exported.
"""

import random

import numpy as np
from alertflow.operators.simulate.config import NS_PER_MS, SimulationConfig, hex_id, rfc3339_ms
from alertflow.operators.simulate.faults import Hop, Incident
from alertflow.operators.simulate.metrics import MetricGrid
from alertflow.operators.simulate.topology import Topology
from alertflow.operators.simulate.traces import Span

_INFO = (
    "{op} completed in {ms}ms",
    "request {req} served status=200 bytes={n}",
    "cache hit ratio {pct}% over last 60s",
    "connection pool stats: active={small} idle={n}",
    "healthcheck ok",
    "config reloaded, {small} keys changed",
)
_WARN = (
    "slow {op}: took {ms}ms",
    "retrying {op} after transient failure (attempt {small}/3)",
    "deprecated header X-Client-Version seen from {n} clients",
)
# Per fault: what the root logs, then what a caller of a failing service logs.
_ROOT = {
    "latency": ("WARN", "slow {op}: took {big}ms (budget {ms}ms)"),
    "error_spike": ("ERROR", "unhandled exception in {op}: IllegalStateException id={req}"),
    "cpu_saturation": (
        "WARN",
        "request queue saturated: {n} pending, workers {small}/{small} busy",
    ),
    "memory_leak": ("WARN", "GC overhead high: {pct}% time in GC, heap {big}MB"),
    "dependency_down": ("ERROR", "readiness probe failed: listener not accepting connections"),
}
_CALLER = {
    "latency": "context deadline exceeded calling {via} after {big}ms (request {req})",
    "error_spike": "upstream {via} returned 500 for request {req}",
    "cpu_saturation": "timeout waiting for {via}: {big}ms elapsed",
    "memory_leak": "upstream {via} reset connection (request {req})",
    "dependency_down": "dial tcp {addr}: connect: connection refused ({via})",
}
_OOM = "java.lang.OutOfMemoryError: Java heap space (heap {big}MB)"
_BURST_PER_STEP = 3.0


def _fill(rng: random.Random, template: str, **known: str) -> str:
    fields = {
        "ms": str(rng.randint(2, 400)),
        "big": str(rng.randint(800, 9000)),
        "n": str(rng.randint(10, 999)),
        "small": str(rng.randint(1, 32)),
        "pct": str(rng.randint(40, 99)),
        "req": hex_id(rng, 48),
        "addr": f"10.{rng.randint(0, 63)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}:"
        f"{rng.choice((5432, 6379, 8080, 9200))}",
        "op": "request",
    }
    fields.update(known)
    return template.format(**fields)


def _line(
    ts_ns: int, where: tuple[str, str], level: str, message: str, trace_id: str
) -> dict[str, str]:
    cluster, service = where
    return {
        "timestamp": rfc3339_ms(ts_ns),
        "service": service,
        "level": level,
        "message": message,
        "trace_id": trace_id,
        "cluster": cluster,
    }


def _chatter(
    cfg: SimulationConfig, topo: Topology, grid: MetricGrid
) -> list[tuple[int, dict[str, str]]]:
    rng = cfg.rng("logs:chatter")
    counts = cfg.np_rng("logs:chatter").poisson(
        (0.6 * len(topo.services), 0.2), (len(grid.times_ns), len(topo.clusters), 2)
    )
    lines = []
    for t, step_start in enumerate(grid.times_ns.tolist()):
        for c, cluster in enumerate(topo.clusters):
            for level, templates, n in (
                ("INFO", _INFO, counts[t, c, 0]),
                ("WARN", _WARN, counts[t, c, 1]),
            ):
                for _ in range(int(n)):
                    service = rng.choice(topo.services)
                    message = _fill(rng, rng.choice(templates), op=rng.choice(service.operations))
                    trace_id = hex_id(rng, 128) if rng.random() < 0.6 else ""
                    ts = step_start + rng.randrange(cfg.step_ns // NS_PER_MS) * NS_PER_MS
                    lines.append((ts, _line(ts, (cluster, service.name), level, message, trace_id)))
    return lines


def _burst_line(incident: Incident, hop: Hop, late: bool) -> tuple[str, str]:
    """Level and message of one error-burst line; ``late``: a leak is close to the limit."""
    if hop.hops:
        return "ERROR", _CALLER[incident.fault]
    if incident.fault == "memory_leak" and late:
        return "ERROR", _OOM
    return _ROOT[incident.fault]


def _bursts(
    cfg: SimulationConfig, topo: Topology, grid: MetricGrid, incidents: list[Incident]
) -> list[tuple[int, dict[str, str]]]:
    rng = cfg.rng("logs:bursts")
    np_rng = cfg.np_rng("logs:bursts")
    lines = []
    for incident in incidents:
        for hop in incident.hops:
            env = incident.envelope(hop, grid.times_ns)
            counts = np_rng.poisson(_BURST_PER_STEP * hop.strength * env)
            service = topo.services[topo.index[hop.service]]
            for t in np.flatnonzero(counts).tolist():
                for _ in range(int(counts[t])):
                    ts = int(grid.times_ns[t]) + rng.randrange(cfg.step_ns // NS_PER_MS) * NS_PER_MS
                    level, template = _burst_line(incident, hop, late=env[t] > 0.9)
                    message = _fill(rng, template, via=hop.via, op=rng.choice(service.operations))
                    where = (incident.cluster, hop.service)
                    lines.append((ts, _line(ts, where, level, message, hex_id(rng, 128))))
    return lines


def _span_errors(failed: list[Span]) -> list[tuple[int, dict[str, str]]]:
    lines = []
    for span in failed:
        if span.failure == "refused":
            message = f"{span.name}: connect: connection refused"
        elif span.failure.startswith("upstream:"):
            message = f"{span.name} failed: upstream {span.failure[9:]} returned an error"
        else:
            message = f"{span.name} failed: internal error"
        if span.kind == 3 and span.failure != "refused":
            continue  # the server span of the same call already logged it
        where = (span.cluster, span.service)
        lines.append((span.end_ns, _line(span.end_ns, where, "ERROR", message, span.trace_id)))
    return lines


def generate_logs(
    cfg: SimulationConfig,
    topo: Topology,
    grid: MetricGrid,
    incidents: list[Incident],
    failed: list[Span],
) -> list[dict[str, str]]:
    """Every log line of the run, ordered by timestamp."""
    timed = _chatter(cfg, topo, grid) + _bursts(cfg, topo, grid, incidents) + _span_errors(failed)
    timed.sort(key=lambda item: item[0])
    return [line for _, line in timed]
