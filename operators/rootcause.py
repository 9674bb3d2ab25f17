"""Root-cause ranking: the service whose alerts or anomalies started first, within lag tolerance.

Symptoms trail their cause, so onset order is the strongest signal available
without topology. Services whose onsets fall within ``tolerance_ns`` of each
other are near-ties (monitoring lag blurs their order) and are separated by
strength: an alert's severity, an anomaly's score.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

from operators.alert_dedup import AlertMember
from operators.topology import ServiceGraph
from schemas.timefmt import NS_PER_S, format_ns

_SEVERITY_WEIGHT = {"critical": 1.0, "warning": 0.7, "info": 0.4}
# Onset order is blurred by monitoring lag; a failing dependency is stronger evidence.
_SYMPTOM_FACTOR = 0.5


def _strength(member: AlertMember) -> float:
    if member.kind == "anomaly":
        return member.score
    return _SEVERITY_WEIGHT.get(member.severity, 0.7)


def _topology_evidence(callees: list[str], failing: list[str]) -> tuple[str, ...]:
    if failing:
        return (f"depends on {', '.join(failing[:3])}, also failing: likely a symptom",)
    if callees:
        return (f"its dependencies are healthy ({', '.join(callees[:3])})",)
    return ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ranked service with its score and the evidence for it."""

    service: str
    score: float
    evidence: tuple[str, ...]


def rank_by_onset(
    members: Iterable[AlertMember],
    graph: ServiceGraph | None = None,
    tolerance_ns: int = 120 * NS_PER_S,
    decay_s: float = 300.0,
) -> list[Candidate]:
    """Rank services by earliest alert onset, then by what the call graph says.

    A service that depends (up to three hops) on another service of the incident that was
    already alerting (within the lag tolerance) is more likely a symptom than a cause, so
    its score is scaled by ``_SYMPTOM_FACTOR``; one whose dependencies are all healthy
    keeps its score (the evidence says which).

    >>> a = AlertMember("f1", {"service": "db", "alertname": "Slow"}, {}, 0, 0, "firing")
    >>> b = AlertMember("f2", {"service": "api", "alertname": "Errors"}, {}, 600 * 10**9,
    ...                 600 * 10**9, "firing")
    >>> [c.service for c in rank_by_onset([b, a])]
    ['db', 'api']
    """
    by_service: dict[str, list[AlertMember]] = {}
    for member in members:
        by_service.setdefault(member.service or "unknown", []).append(member)
    graph = graph or ServiceGraph()
    if not by_service:
        return []
    first_onset = min(m.first_ns for ms in by_service.values() for m in ms)
    scored = []
    for service, ms in by_service.items():
        onset = min(m.first_ns for m in ms)
        delay_ns = max(0, onset - first_onset - tolerance_ns)
        timing = math.exp(-delay_ns / (decay_s * NS_PER_S))
        strength = max(_strength(m) for m in ms)
        callees = graph.callees(service)
        # A dependency that started failing only after this service did explains nothing.
        failing = sorted(
            dep
            for dep in graph.downstream(service) & by_service.keys()
            if min(m.first_ns for m in by_service[dep]) <= onset + tolerance_ns
        )
        score = timing * (0.8 + 0.2 * strength) * (_SYMPTOM_FACTOR if failing else 1.0)
        alerts = sorted({m.title for m in ms if m.kind == "alert"})
        anomalies = sorted((m for m in ms if m.kind == "anomaly"), key=lambda m: -m.score)
        evidence = (
            f"first alert at {format_ns(onset)}"
            + (
                " (earliest in the incident)"
                if onset == first_onset
                else f" ({(onset - first_onset) / NS_PER_S:.0f}s after the first)"
            ),
            *([f"{len(alerts)} alert(s): {', '.join(alerts[:5])}"] if alerts else []),
            *[f"anomalous: {m.annotations.get('description', m.title)}" for m in anomalies[:3]],
            *_topology_evidence(callees, failing),
        )
        scored.append((score, -onset, service, evidence))
    scored.sort(key=lambda row: (-row[0], -row[1], row[2]))
    return [Candidate(service, round(score, 4), evidence) for score, _, service, evidence in scored]
