"""A deterministic simulator of a microservice estate's telemetry, with known incidents.

It writes metrics (prometheus-kafka-adapter JSON), alerts (Alertmanager
webhook payloads), traces (OTLP JSON), logs (plain JSON lines) and the ground
truth behind them, so correlation and prediction can be scored against what
really happened. The same seed and arguments always give byte-identical files.
"""

from dataclasses import dataclass
from pathlib import Path

from alertflow.operators.simulate import webhook
from alertflow.operators.simulate.alerts import evaluate_rules
from alertflow.operators.simulate.config import SimulationConfig, SimulationError
from alertflow.operators.simulate.emit import ground_truth, write_json, write_jsonl
from alertflow.operators.simulate.faults import schedule_incidents
from alertflow.operators.simulate.logs import generate_logs
from alertflow.operators.simulate.metrics import generate_metrics, metric_records
from alertflow.operators.simulate.noise import noise_episodes
from alertflow.operators.simulate.situations import (
    Situations,
    always_firing_episodes,
    infrastructure_episodes,
)
from alertflow.operators.simulate.topology import build_topology
from alertflow.operators.simulate.traces import failed_spans, generate_traces, trace_requests

__all__ = ["SimulationError", "SimulationSummary", "Situations", "simulate"]


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """Where the files went and how many records each holds."""

    out_dir: Path
    metrics_path: Path
    alerts_path: Path
    traces_path: Path
    logs_path: Path
    ground_truth_path: Path
    metric_lines: int
    alert_payloads: int
    trace_requests: int
    log_lines: int
    incidents: int
    noise_alerts: int


def simulate(
    out_dir: Path,
    *,
    seed: int = 0,
    services: int = 12,
    duration_s: int = 3 * 3600,
    step_s: int = 30,
    incidents: int = 3,
    noise_alerts: int = 6,
    clusters: int = 1,
    start_ns: int = 1_795_600_800 * 10**9,
    situations: Situations | None = None,
) -> SimulationSummary:
    """Simulate ``duration_s`` of telemetry from ``start_ns`` and write it into ``out_dir``.

    ``situations`` adds what issue 10 found correlation weak on (all off by default).

    Raises :class:`SimulationError` for an estate or window too small to simulate.
    """
    cfg = SimulationConfig(
        seed, services, duration_s, step_s, incidents, noise_alerts, clusters, start_ns
    )
    topo = build_topology(cfg.rng("topology"), cfg.services, cfg.clusters)
    extra = situations or Situations()
    scheduled = schedule_incidents(cfg, topo, extra.overlapping, extra.cold_start)
    grid = generate_metrics(cfg, topo, scheduled)
    rules = evaluate_rules(cfg, topo, grid, scheduled, extra.root_for_s)
    episodes = webhook.sent(rules, cfg.end_ns)
    noisy = noise_episodes(cfg, topo) + always_firing_episodes(cfg, topo, extra.always_firing)
    if extra.infrastructure:
        noisy += infrastructure_episodes(cfg, topo)
    noise = webhook.sent(noisy, cfg.end_ns, cfg.start_ns)
    traces = generate_traces(cfg, topo, grid)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_episodes = sorted(episodes + noise, key=lambda e: (e.starts_ns, e.fingerprint))
    batching = extra.group_interval_s * 10**9
    first = webhook.first_sends(all_episodes, batching) if batching else {}
    if batching:
        all_episodes = webhook.sent(all_episodes, cfg.end_ns, cfg.start_ns, first)
    write_json(out / "ground_truth.json", ground_truth(cfg, topo, scheduled, all_episodes))
    sends = webhook.payloads(all_episodes, cfg.end_ns, cfg.start_ns, batching, first)
    alert_bodies = (body for _, body in sends)
    logs = generate_logs(cfg, topo, grid, scheduled, failed_spans(traces))
    return SimulationSummary(
        out_dir=out,
        metrics_path=out / "metrics.jsonl",
        alerts_path=out / "alerts.jsonl",
        traces_path=out / "traces.jsonl",
        logs_path=out / "logs.jsonl",
        ground_truth_path=out / "ground_truth.json",
        metric_lines=write_jsonl(out / "metrics.jsonl", metric_records(grid, topo)),
        alert_payloads=write_jsonl(out / "alerts.jsonl", alert_bodies),
        trace_requests=write_jsonl(out / "traces.jsonl", trace_requests(traces, topo)),
        log_lines=write_jsonl(out / "logs.jsonl", logs),
        incidents=len(scheduled),
        noise_alerts=len({e.fingerprint for e in all_episodes if not e.incident_ids}),
    )
