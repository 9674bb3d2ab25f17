"""Output records as the flow emits them, validated against schemas.outputs."""

from alertflow.schemas.outputs import Anomaly, Incident
from alertflow.schemas.records import AlertEvent
from alertflow.schemas.timefmt import format_ns

T0 = 1_795_600_800_000_000_000  # 2026-11-25T10:00:00Z
MIN = 60 * 10**9


def incident(n: int, version: int = 1, status: str = "open", services=("checkout",),
             severity: str = "critical", opened: int | None = None, fingerprints=("fp1",)) -> dict:
    opened_ns = T0 + n * MIN if opened is None else opened
    updated_ns = opened_ns + version * MIN
    members = [
        {"kind": "alert", "id": fp, "ts": format_ns(opened_ns), "last_seen": format_ns(updated_ns),
         "count": 1, "status": "firing", "service": services[0], "labels": {"alertname": "HighLatency"}}
        for fp in fingerprints
    ]
    return Incident(
        id=f"v-{n}-{version}", incident_id=f"inc-{n:05d}", version=version, status=status,
        domain="prod", opened_at=format_ns(opened_ns), updated_at=format_ns(updated_ns),
        resolved_at=format_ns(updated_ns) if status == "resolved" else None,
        services=list(services), members=members,
        root_causes=[{"service": services[0], "score": 0.9, "evidence": ["p99 latency 4x"]}],
        severity=severity, summary=f"incident {n}", recommendations=["roll back"],
    ).model_dump(mode="json")


def anomaly(n: int, ts_ns: int | None = None) -> dict:
    ts = T0 + n * 10**9 if ts_ns is None else ts_ns
    return Anomaly(
        id=f"a-{n}", series='latency{service="checkout"}', name="latency",
        labels={"service": "checkout"}, ts=format_ns(ts), value=4.0, score=0.9, expected=1.0,
        lower=0.5, upper=1.5, detectors=["robust_ewma"], severity="critical",
    ).model_dump(mode="json")


def alert(fp: str, rule: str = "HighLatency", status: str = "firing", starts: int = T0,
          service: str = "checkout", team: str | None = None) -> AlertEvent:
    ends = starts + MIN if status == "resolved" else None
    labels = {"alertname": rule, "service": service} | ({"team": team} if team else {})
    return AlertEvent(fp, status, labels, {}, starts, ends)
