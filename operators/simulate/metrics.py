"""Per-service golden signals on a scrape grid, with seasonality, trend, noise and faults.

Arrays are shaped (cluster, service, step). The baseline is drawn first and
kept, because alert rules such as "traffic fell to a tenth of normal" compare
against it; incident effects are then layered on top. Baseline noise is
clipped at three sigma so that only injected faults ever cross alert
thresholds, which keeps every alert in the ground truth explainable.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from alertflow.operators.simulate.config import NS_PER_S, SimulationConfig, rfc3339_s
from alertflow.operators.simulate.faults import Incident
from alertflow.operators.simulate.topology import Topology, cluster_peak_hour

RATE = "http_requests_per_second"
ERRORS = "http_request_error_ratio"
P99 = "http_request_duration_seconds_p99"
CPU = "container_cpu_utilisation_ratio"
MEMORY = "container_memory_working_set_bytes"
METRICS = (RATE, ERRORS, P99, CPU, MEMORY)
_DECIMALS = {RATE: 3, ERRORS: 5, P99: 4, CPU: 4, MEMORY: 0}
_P99_RANGE_S = {"frontend": (0.15, 0.35), "backend": (0.04, 0.15), "datastore": (0.003, 0.02)}
_MIB = 1024 * 1024
_DAY_S = 86_400.0

# Per fault: added p99 multiple at the root and per unit strength upstream,
# then added error ratio at the root and per unit strength upstream.
_EFFECTS = {
    "latency": (6.0, 3.6, 0.02, 0.04),
    "error_spike": (0.3, 0.2, 0.35, 0.35),
    "cpu_saturation": (2.5, 1.8, 0.03, 0.03),
    "memory_leak": (1.5, 0.6, 0.30, 0.25),
    "dependency_down": (0.0, 0.8, 0.97, 0.60),
}


def effect_weight(fault: str, metric: str, hops: int, strength: float) -> float:
    """How strongly a fault moves ``metric`` on a service ``hops`` calls above the root.

    Alert attribution uses it to credit an alert to the incident that explains it.
    """
    lat_root, lat_up, err_root, err_up = _EFFECTS[fault]
    if metric == P99:
        return lat_root if hops == 0 else lat_up * strength
    if metric == ERRORS:
        return err_root if hops == 0 else err_up * strength
    root_only = {
        CPU: {"cpu_saturation": 1.0, "memory_leak": 0.3},
        MEMORY: {"memory_leak": 1.0},
        RATE: {"dependency_down": 1.0},
    }
    return root_only[metric].get(fault, 0.0) if hops == 0 else 0.0


@dataclass(slots=True)
class MetricGrid:
    """Every series' values, the incident-free baseline, and per-series constants."""

    times_ns: np.ndarray
    values: dict[str, np.ndarray]
    baseline: dict[str, np.ndarray]
    p99_slo_s: np.ndarray  # (cluster, service): the usual p99, alert rules scale it
    memory_limit: np.ndarray  # (cluster, service) bytes
    down: np.ndarray  # (cluster, service, step): 1 while a service refuses connections
    start_ns: int
    step_ns: int

    def step_of(self, ts_ns: int) -> int:
        """The scrape interval that ``ts_ns`` falls in, clamped to the grid."""
        return min(max((ts_ns - self.start_ns) // self.step_ns, 0), len(self.times_ns) - 1)

    def at(self, metric: str, cluster: int, service: int, ts_ns: int) -> float:
        """The value a scrape around ``ts_ns`` saw."""
        return float(self.values[metric][cluster, service, self.step_of(ts_ns)])


def _noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.clip(rng.standard_normal(shape), -3.0, 3.0)


def _baseline(cfg: SimulationConfig, topo: Topology, times_ns: np.ndarray) -> MetricGrid:
    rng = cfg.np_rng("metrics")
    n_c, n_s, n_t = len(topo.clusters), len(topo.services), len(times_ns)
    shape = (n_c, n_s, n_t)
    seconds = times_ns // NS_PER_S
    days = ((times_ns - cfg.start_ns) / NS_PER_S / _DAY_S)[None, None, :]
    peaks = np.array([cluster_peak_hour(c) * 3600 for c in topo.clusters])[:, None]
    amplitude = rng.uniform(0.3, 0.5, n_c)[:, None]
    load = 1 + amplitude * np.cos(2 * np.pi * ((seconds % 86_400)[None, :] - peaks) / _DAY_S)
    load = load[:, None, :]
    trend = 1 + rng.uniform(-0.05, 0.15, (n_c, n_s))[:, :, None] * days

    rate0 = np.zeros((n_c, n_s))
    scale = rng.uniform(0.6, 1.4, n_c)
    for service in topo.services:  # call order: every caller is filled before its callees
        i = topo.index[service.name]
        if service.tier == "frontend":
            rate0[:, i] = rng.uniform(40, 150) * scale
        for caller in topo.callers[service.name]:
            fanout = topo.calls_per_request[(caller, service.name)]
            rate0[:, i] += rate0[:, topo.index[caller]] * fanout
    p99_slo = np.array([rng.uniform(*_P99_RANGE_S[s.tier]) for s in topo.services])
    p99_slo = np.broadcast_to(p99_slo, (n_c, n_s)) * rng.uniform(0.9, 1.1, (n_c, n_s))
    memory0 = rng.uniform(256, 2048, (n_c, n_s)) * _MIB
    limit = np.ceil(memory0 * rng.uniform(1.6, 2.2, (n_c, n_s)) / (128 * _MIB)) * 128 * _MIB
    memory_trend = 1 + rng.uniform(0.0, 0.02, (n_c, n_s))[:, :, None] * days

    values = {
        RATE: rate0[:, :, None] * load * trend * np.exp(0.05 * _noise(rng, shape)),
        ERRORS: rng.uniform(0.0005, 0.004, (n_c, n_s))[:, :, None]
        * np.exp(0.3 * _noise(rng, shape)),
        P99: p99_slo[:, :, None] * (1 + 0.15 * (load - 1)) * np.exp(0.06 * _noise(rng, shape)),
        CPU: np.clip(
            rng.uniform(0.15, 0.4, (n_c, n_s))[:, :, None]
            * load
            * trend
            * (1 + 0.04 * _noise(rng, shape)),
            0.01,
            0.8,
        ),
        MEMORY: np.minimum(
            memory0[:, :, None] * memory_trend * (1 + 0.01 * _noise(rng, shape)),
            0.8 * limit[:, :, None],
        ),
    }
    return MetricGrid(
        times_ns=times_ns,
        values=values,
        baseline={name: array.copy() for name, array in values.items()},
        p99_slo_s=p99_slo,
        memory_limit=limit,
        down=np.zeros(shape),
        start_ns=cfg.start_ns,
        step_ns=cfg.step_ns,
    )


def _inject(
    grid: MetricGrid, topo: Topology, incidents: list[Incident], rng: np.random.Generator
) -> None:
    """Layer every incident's effect onto the baseline, in place."""
    shape = grid.down.shape
    latency_add = np.zeros(shape)
    error_add = np.zeros(shape)
    cpu_pull = np.zeros(shape)
    memory_pull = np.zeros(shape)
    for incident in incidents:
        c = topo.clusters.index(incident.cluster)
        lat_root, lat_up, err_root, err_up = _EFFECTS[incident.fault]
        for hop in incident.hops:
            s = topo.index[hop.service]
            env = incident.envelope(hop, grid.times_ns)
            root = hop.hops == 0
            felt, errors_felt = env, env
            if incident.fault == "memory_leak":  # GC pauses late in the leak, errors at OOM
                felt, errors_felt = env**4, np.clip((env - 0.9) / 0.1, 0.0, 1.0)
            latency_add[c, s] += felt * (lat_root if root else lat_up * hop.strength)
            error_add[c, s] += errors_felt * (err_root if root else err_up * hop.strength)
            if root and incident.fault == "cpu_saturation":
                cpu_pull[c, s] = np.maximum(cpu_pull[c, s], env)
            if root and incident.fault == "memory_leak":
                memory_pull[c, s] = np.maximum(memory_pull[c, s], env)
                cpu_pull[c, s] = np.maximum(cpu_pull[c, s], 0.3 * env**3)
            if root and incident.fault == "dependency_down":
                grid.down[c, s] = np.maximum(grid.down[c, s], env)
    values = grid.values
    values[P99] *= 1 + latency_add
    values[ERRORS] = np.clip(values[ERRORS] + error_add, 0.0, 1.0)
    saturated = 0.96 + 0.01 * _noise(rng, shape)
    values[CPU] += (saturated - values[CPU]) * cpu_pull
    values[MEMORY] += (0.97 * grid.memory_limit[:, :, None] - values[MEMORY]) * memory_pull
    values[RATE] *= 1 - 0.98 * grid.down


def generate_metrics(
    cfg: SimulationConfig, topo: Topology, incidents: list[Incident]
) -> MetricGrid:
    """The whole run's metrics, incidents included."""
    times_ns = cfg.start_ns + np.arange(cfg.steps, dtype=np.int64) * cfg.step_ns
    grid = _baseline(cfg, topo, times_ns)
    _inject(grid, topo, incidents, cfg.np_rng("metrics:faults"))
    return grid


def _format_value(value: float, decimals: int) -> str:
    """Shortest decimal text, as Go's ``FormatFloat(v, 'f', -1, 64)`` would print it."""
    if decimals == 0:
        return str(round(value))
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def metric_records(grid: MetricGrid, topo: Topology) -> Iterator[dict[str, object]]:
    """Adapter-format records, every series interleaved per scrape in time order."""
    series = []
    for c, cluster in enumerate(topo.clusters):
        for s, service in enumerate(topo.services):
            instance = f"10.{40 + c}.{s // 250}.{s % 250 + 2}:9090"  # the pod's address
            for metric in METRICS:
                labels = {
                    "__name__": metric,
                    "service": service.name,
                    "cluster": cluster,
                    "namespace": service.namespace,
                    "instance": instance,
                    "job": service.name,
                }
                series.append((metric, grid.values[metric][c, s], labels))
    for t, ts_ns in enumerate(grid.times_ns.tolist()):
        stamp = rfc3339_s(ts_ns)
        for metric, column, labels in series:
            yield {
                "timestamp": stamp,
                "value": _format_value(float(column[t]), _DECIMALS[metric]),
                "name": metric,
                "labels": labels,
            }
