"""Alerts no incident explains: short, flapping, on random services.

They use alert names the incident rules never produce, so their fingerprints
can never collide with an incident's, and each one flaps: it fires and
resolves a few times under the same fingerprint, as a badly tuned rule does.
"""

from alertflow.operators.simulate.alerts import AlertEpisode, alert_fingerprint, generator_url
from alertflow.operators.simulate.config import NS_PER_S, SimulationConfig
from alertflow.operators.simulate.topology import Topology

# alertname, severity, summary, description, PromQL
_NOISE_RULES = (
    ("KubePodCrashLooping", "warning", "a {service} pod is crash looping",
     "pod {service}-{pod} restarted {n} times in the last 10 minutes",
     'increase(kube_pod_container_status_restarts_total{{service="{service}"}}[10m]) > 3'),
    ("NodeFilesystemSpaceFillingUp", "warning", "a node under {service} is filling its disk",
     "filesystem on node-{pod} has {n}% space left",
     'node_filesystem_avail_bytes{{mountpoint="/"}} / node_filesystem_size_bytes < 0.15'),
    ("CPUThrottlingHigh", "warning", "{service} is being CPU throttled",
     "{n}% throttling of CPU in namespace for container {service}",
     'rate(container_cpu_cfs_throttled_periods_total{{service="{service}"}}[5m]) > 0.25'),
    ("KubeHpaMaxedOut", "warning", "the autoscaler of {service} is at its maximum",
     "HPA {service} has been running at max replicas ({n}) for longer than 15 minutes",
     'kube_horizontalpodautoscaler_status_current_replicas{{hpa="{service}"}} >= max'),
    ("TargetScrapeSlow", "warning", "scraping {service} is slow",
     "scrape of {service} took {n}00ms",
     'scrape_duration_seconds{{job="{service}"}} > 0.5'),
    ("KubeContainerOOMKilledOnce", "critical", "a {service} sidecar was OOM killed",
     "container istio-proxy in pod {service}-{pod} was OOM killed (exit code 137)",
     'kube_pod_container_status_last_terminated_reason{{reason="OOMKilled"}} == 1'),
    ("CertificateExpiringSoon", "warning", "the TLS certificate of {service} expires soon",
     "certificate for {service}.svc expires in {n} days",
     'certmanager_certificate_expiration_timestamp_seconds - time() < 7 * 86400'),
)  # fmt: skip


def noise_episodes(cfg: SimulationConfig, topo: Topology) -> list[AlertEpisode]:
    """``cfg.noise_alerts`` distinct flapping alerts, each firing 1 to 4 times."""
    rng = cfg.rng("noise")
    used: list[tuple[str, str, str]] = []
    episodes: list[AlertEpisode] = []
    for _ in range(cfg.noise_alerts):
        for _attempt in range(50):
            rule = rng.choice(_NOISE_RULES)
            service = rng.choice(topo.services)
            cluster = rng.choice(topo.clusters)
            if (rule[0], service.name, cluster) not in used:
                break
        used.append((rule[0], service.name, cluster))
        alertname, severity, summary, description, expr = rule
        labels = {
            "alertname": alertname,
            "service": service.name,
            "cluster": cluster,
            "namespace": service.namespace,
            "severity": severity,
        }
        fields = {"service": service.name, "pod": f"{rng.getrandbits(24):06x}"[:5]}
        fields["n"] = str(rng.randint(4, 40))
        annotations = {
            "summary": summary.format(**fields),
            "description": description.format(**fields),
        }
        latest = cfg.end_ns - 20 * 60 * NS_PER_S
        at = cfg.start_ns + rng.randrange((latest - cfg.start_ns) // NS_PER_S) * NS_PER_S
        for _flap in range(rng.choice((1, 2, 3, 3, 4))):
            lasts = rng.randint(60, 360) * NS_PER_S
            episodes.append(
                AlertEpisode(
                    labels=labels,
                    annotations=annotations,
                    starts_ns=at,
                    ends_ns=at + lasts,
                    fingerprint=alert_fingerprint(labels),
                    generator_url=generator_url(expr.format(**fields)),
                    incident_ids=(),
                )
            )
            at += lasts + rng.randint(60, 420) * NS_PER_S
    return episodes
