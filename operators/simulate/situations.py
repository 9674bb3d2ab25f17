"""Situations an estate throws at correlation, each off by default (issue 10).

- ``overlapping``: every other fault starts while the previous one is active, on a
  dependency or a caller of a service it affects, in the same cluster, 3 to 12 minutes
  after it (a cause that starts after those symptoms: a fault of its own).
- ``group_interval_s``: Alertmanager batches a group's (``alertname``, ``cluster``) new
  alerts and sends them together every ``group_interval``, so alerts arrive minutes
  after alerts that started later (``operators.simulate.webhook``).
- ``root_for_s``: the root service's own alerts have a longer ``for:`` than its callers'
  and start up to this much later (drawn from a third of it to all of it).
- ``infrastructure``: node-exporter and kubelet alerts on nodes (noise: no fault causes
  them), and Alertmanager's always-firing ``Watchdog`` and ``InfoInhibitor``.
- ``always_firing``: this many warnings on random services that started days before the
  run and fire throughout it (fault-free noise an engine sees from its first minute).
- ``cold_start``: the first fault starts 2 to 10 minutes into the run, before any
  detector has a baseline (every series is in its warm-up).
"""

from dataclasses import dataclass

from alertflow.operators.simulate.alerts import AlertEpisode, alert_fingerprint, generator_url
from alertflow.operators.simulate.config import NS_PER_S, SimulationConfig
from alertflow.operators.simulate.topology import Topology

_DAY_NS = 24 * 3600 * NS_PER_S
# alertname, job, severity, summary, PromQL
_NODE_RULES = (
    ("NodeFilesystemSpaceFillingUp", "node-exporter", "warning",
     "filesystem on {node} is predicted to run out of space",
     'predict_linear(node_filesystem_avail_bytes{{node="{node}"}}[6h], 86400) < 0'),
    ("NodeMemoryHighUtilization", "node-exporter", "warning",
     "memory on {node} is over 90% used",
     'node_memory_MemAvailable_bytes{{node="{node}"}} / node_memory_MemTotal_bytes < 0.1'),
    ("KubeletTooManyPods", "kubelet", "info", "kubelet on {node} runs near its pod limit",
     'kubelet_running_pods{{node="{node}"}} > 0.95 * capacity'),
    ("NodeClockNotSynchronising", "node-exporter", "warning", "clock on {node} drifts",
     'min_over_time(node_timex_sync_status{{node="{node}"}}[5m]) == 0'),
)  # fmt: skip
_LONG_RULES = (
    ("KubeDeploymentReplicasMismatch", "{service} runs fewer replicas than it asks for"),
    ("KubePersistentVolumeFillingUp", "a volume of {service} is filling up"),
    ("KubeQuotaAlmostFull", "the namespace of {service} is near its quota"),
)


@dataclass(frozen=True, slots=True)
class Situations:
    """Which situations a run contains (all off: the simulator as it always was)."""

    overlapping: bool = False
    group_interval_s: int = 0
    root_for_s: int = 0
    infrastructure: bool = False
    always_firing: int = 0
    cold_start: bool = False

    @classmethod
    def every(cls) -> "Situations":
        """Every situation at the strength issue 10 describes."""
        return cls(True, 300, 15 * 60, True, 2, True)


def _episode(labels: dict[str, str], summary: str, expr: str, starts: int, ends: int | None):
    return AlertEpisode(
        labels=labels,
        annotations={"summary": summary},
        starts_ns=starts,
        ends_ns=ends,
        fingerprint=alert_fingerprint(labels),
        generator_url=generator_url(expr),
        incident_ids=(),
    )


def infrastructure_episodes(cfg: SimulationConfig, topo: Topology) -> list[AlertEpisode]:
    """Watchdog, InfoInhibitor, and a few flapping node and kubelet alerts per cluster."""
    rng = cfg.rng("infrastructure")
    episodes = []
    for cluster in topo.clusters:
        since = cfg.start_ns - rng.randint(2, 30) * _DAY_NS
        for name in ("Watchdog", "InfoInhibitor"):
            labels = {"alertname": name, "cluster": cluster, "severity": "none"}
            if name == "InfoInhibitor":
                labels["namespace"] = "kube-system"
            episodes.append(_episode(labels, f"{name} helper alert", "vector(1)", since, None))
        nodes = [f"{cluster}-worker-{i + 1}" for i in range(rng.randint(2, 4))]
        for _ in range(rng.randint(1, 3)):
            name, job, severity, summary, expr = rng.choice(_NODE_RULES)
            node = rng.choice(nodes)
            labels = {"alertname": name, "cluster": cluster, "job": job, "node": node,
                      "instance": f"{node}:9100", "severity": severity}  # fmt: skip
            at = cfg.start_ns + rng.randrange(cfg.duration_s * 9 // 10) * NS_PER_S
            for _flap in range(rng.choice((1, 2, 3))):
                lasts = rng.randint(120, 900) * NS_PER_S
                text = summary.format(node=node)
                episodes.append(_episode(labels, text, expr.format(node=node), at, at + lasts))
                at += lasts + rng.randint(120, 900) * NS_PER_S
    return episodes


def always_firing_episodes(cfg: SimulationConfig, topo: Topology, count: int) -> list[AlertEpisode]:
    """``count`` warnings on random services, started days ago, firing all run long."""
    rng = cfg.rng("always-firing")
    episodes = []
    for _ in range(count):
        name, summary = rng.choice(_LONG_RULES)
        service = rng.choice(topo.services)
        labels = {"alertname": name, "service": service.name, "cluster": rng.choice(topo.clusters),
                  "namespace": service.namespace, "severity": "warning"}  # fmt: skip
        since = cfg.start_ns - rng.randint(1, 20) * _DAY_NS
        text = summary.format(service=service.name)
        episodes.append(_episode(labels, text, f"{name}_expr", since, None))
    return episodes
