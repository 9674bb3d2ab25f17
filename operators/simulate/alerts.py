"""Alert rules evaluated on the simulated metrics, the way Prometheus would.

A rule fires once its condition has held for ``for`` (two scrapes at 30 s);
the alert then starts after a random monitoring lag of 30 s to 3 min (scrape,
rule evaluation, ``for``) and ends a little after the condition clears. Each
episode is credited to the incidents whose injected effect on that metric of
that service explains it.
"""

import math
import random
from dataclasses import dataclass, replace
from urllib.parse import quote

import numpy as np
from alertflow.operators.simulate.config import NS_PER_MS, SimulationConfig
from alertflow.operators.simulate.faults import Incident
from alertflow.operators.simulate.metrics import (
    CPU,
    ERRORS,
    MEMORY,
    P99,
    RATE,
    MetricGrid,
    effect_weight,
)
from alertflow.operators.simulate.topology import Topology

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = 0xFFFF_FFFF_FFFF_FFFF
_FOR_S = 60
_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A Prometheus alerting rule on one metric of one service."""

    alertname: str
    metric: str
    severity: str
    above: bool  # fire when the value is above the threshold (else below)
    summary: str


RULES = (
    AlertRule("HighRequestLatency", P99, "warning", True, "p99 latency of {service} is high"),
    AlertRule("HighErrorRate", ERRORS, "critical", True, "{service} is failing requests"),
    AlertRule("CPUSaturation", CPU, "warning", True, "{service} is CPU saturated"),
    AlertRule("ContainerMemoryNearLimit", MEMORY, "critical", True,
              "{service} is close to its memory limit"),
    AlertRule("RequestRateCollapsed", RATE, "critical", False,
              "traffic to {service} collapsed"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    """One firing of one alert, from ``starts_ns`` until ``ends_ns`` (None: still firing)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_ns: int
    ends_ns: int | None
    fingerprint: str
    generator_url: str
    incident_ids: tuple[str, ...]  # empty for alerts no incident explains


def alert_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted label names and values.

    >>> alert_fingerprint({})
    'cbf29ce484222325'
    >>> alert_fingerprint({"b": "2", "a": "1"}) == alert_fingerprint({"a": "1", "b": "2"})
    True
    """
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            digest = ((digest ^ byte) * _FNV_PRIME) & _MASK64
    return f"{digest:016x}"


def generator_url(expr: str) -> str:
    """The Prometheus graph link Alertmanager carries for an alert's expression."""
    return f"http://prometheus:9090/graph?g0.expr={quote(expr, safe='')}&g0.tab=1"


def _human(metric: str, value: float) -> str:
    if metric == P99:
        return f"{value:.3f}s"
    if metric in (ERRORS, CPU):
        return f"{value * 100:.1f}%"
    if metric == MEMORY:
        return f"{value / _GIB:.2f}GiB"
    return f"{value:.1f} req/s"


def _thresholds(grid: MetricGrid) -> dict[str, np.ndarray]:
    return {
        "HighRequestLatency": 2.5 * grid.p99_slo_s[:, :, None],
        "HighErrorRate": np.array(0.05),
        "CPUSaturation": np.array(0.9),
        "ContainerMemoryNearLimit": 0.9 * grid.memory_limit[:, :, None],
        "RequestRateCollapsed": 0.1 * grid.baseline[RATE],
    }


def _runs(bad: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Start and end (exclusive) of stretches of ``bad`` steps, bridging one-step gaps."""
    steps = np.flatnonzero(bad).tolist()
    runs: list[tuple[int, int]] = []
    for step in steps:
        if runs and step - runs[-1][1] <= 1:
            runs[-1] = (runs[-1][0], step + 1)
        else:
            runs.append((step, step + 1))
    return [(a, b) for a, b in runs if int(bad[a:b].sum()) >= min_len]


def _expr(rule: AlertRule, selector: str, threshold: float) -> str:
    if not rule.above:
        return f"{rule.metric}{selector} < 0.1 * {rule.metric}{selector} offset 1w"
    return f"{rule.metric}{selector} > {threshold:.6g}"


@dataclass(frozen=True, slots=True)
class _Series:
    """Where a rule is evaluated: array positions and the labels they stand for."""

    c: int
    s: int
    cluster: str
    service: str
    namespace: str


def _attribute(
    incidents: list[Incident], rule: AlertRule, series: _Series, window: tuple[int, int]
) -> tuple[str, ...]:
    """The incidents that explain an alert window on a series, best first.

    Overlap in time is weighted by how strongly each incident's fault moves the
    rule's metric there, so an error alert on a service that two incidents
    touch goes to the one that injected errors into it. An incident that
    explains at least 40% as much as the best one is credited too: one alert
    spanning two overlapping incidents is evidence for both.
    """
    scores = []
    for incident in incidents:
        hop = next((h for h in incident.hops if h.service == series.service), None)
        if incident.cluster != series.cluster or hop is None:
            continue
        overlap = min(window[1], incident.active_until_ns()) - max(
            window[0], incident.start_ns + hop.delay_ns
        )
        weight = effect_weight(incident.fault, rule.metric, hop.hops, hop.strength)
        if overlap > 0 and weight > 0:
            scores.append((overlap * weight, incident.id))
    if not scores:
        return ()
    best = max(score for score, _ in scores)
    ranked = sorted(scores, key=lambda item: (-item[0], item[1]))
    return tuple(incident_id for score, incident_id in ranked if score >= 0.4 * best)


def _episode(
    rng: random.Random,
    grid: MetricGrid,
    rule: AlertRule,
    series: _Series,
    threshold: float,
    run: tuple[int, int],
) -> AlertEpisode:
    labels = {
        "alertname": rule.alertname,
        "service": series.service,
        "cluster": series.cluster,
        "namespace": series.namespace,
        "severity": rule.severity,
    }
    first, stop = run
    value = float(grid.values[rule.metric][series.c, series.s, first])
    starts_ns = int(grid.times_ns[first]) + rng.randint(30_000, 180_000) * NS_PER_MS
    ends_ns = None
    if stop < len(grid.times_ns):
        last_bad = int(grid.times_ns[stop - 1]) + grid.step_ns
        ends_ns = max(last_bad + rng.randint(30_000, 120_000) * NS_PER_MS, starts_ns + grid.step_ns)
    word = "above" if rule.above else "below"
    description = (
        f"{rule.metric} of {series.service} in {series.cluster} is "
        f"{_human(rule.metric, value)}, {word} {_human(rule.metric, threshold)}"
    )
    selector = f'{{service="{series.service}",cluster="{series.cluster}"}}'
    return AlertEpisode(
        labels=labels,
        annotations={
            "summary": rule.summary.format(service=series.service),
            "description": description,
        },
        starts_ns=starts_ns,
        ends_ns=ends_ns,
        fingerprint=alert_fingerprint(labels),
        generator_url=generator_url(_expr(rule, selector, threshold)),
        incident_ids=(),
    )


def evaluate_rules(
    cfg: SimulationConfig,
    topo: Topology,
    grid: MetricGrid,
    incidents: list[Incident],
    root_for_s: int = 0,
) -> list[AlertEpisode]:
    """Every alert episode the rules produce, attributed to incidents, in start order.

    With ``root_for_s``, a root service's own alerts have a longer ``for:``: they start
    a third of it to all of it later (and an episode shorter than that never fires).
    """
    rng = cfg.rng("alerts")
    longer = cfg.rng("root-for")
    roots = {(i.cluster, i.root): i.id for i in incidents}
    min_len = max(1, math.ceil(_FOR_S / cfg.step_s))
    thresholds = _thresholds(grid)
    everywhere = [
        _Series(c, s, cluster, service.name, service.namespace)
        for c, cluster in enumerate(topo.clusters)
        for s, service in enumerate(topo.services)
    ]
    episodes = []
    for rule in RULES:
        values = grid.values[rule.metric]
        limit = np.broadcast_to(thresholds[rule.alertname], values.shape)
        bad = values > limit if rule.above else values < limit
        for series in everywhere:
            for run in _runs(bad[series.c, series.s], min_len):
                threshold = float(limit[series.c, series.s, run[0]])
                episode = _episode(rng, grid, rule, series, threshold, run)
                window = (int(grid.times_ns[run[0]]), int(grid.times_ns[run[1] - 1]) + cfg.step_ns)
                explained_by = _attribute(incidents, rule, series, window)
                episode = replace(episode, incident_ids=explained_by)
                if root_for_s and roots.get((series.cluster, series.service)) in explained_by:
                    delay = longer.randint(root_for_s // 3, root_for_s) * NS_PER_MS * 1000
                    if episode.ends_ns is not None and episode.starts_ns + delay >= episode.ends_ns:
                        continue
                    episode = replace(episode, starts_ns=episode.starts_ns + delay)
                episodes.append(episode)
    episodes.sort(key=lambda e: (e.starts_ns, e.fingerprint))
    return episodes
