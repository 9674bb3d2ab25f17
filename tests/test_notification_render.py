"""A notification reads the same from an incident version's plain fields as from its model."""

from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incident_render import render_notification
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.schemas.outputs import Incident
from alertflow.schemas.records import AlertEvent

NS = 1_000_000_000


def _alert(fingerprint: str, service: str, at_s: int) -> AlertEvent:
    labels = {"alertname": "Down", "service": service, "cluster": "c", "severity": "critical"}
    return AlertEvent(fingerprint=fingerprint, status="firing", labels=labels, annotations={},
                      starts_ns=at_s * NS, ends_ns=None, ref=fingerprint)  # fmt: skip


def test_a_version_and_its_model_give_one_notification() -> None:
    correlator = DomainCorrelator(
        "d", IncidentSettings(lateness_s=0.0), static_edges=[("api", "db")]
    )
    out = correlator.on_events([_alert("a", "db", 0), _alert("b", "api", 30)], 0)
    versions = [d.record for d in out if d.stream == "incidents"]
    assert versions and any(d.stream == "notifications" for d in out)
    for kind in ("incident_opened", "incident_escalated", "incident_merged"):
        plain = render_notification(kind, versions[-1])
        assert plain == render_notification(kind, Incident.model_validate(versions[-1]))
        assert plain.root_cause == "db" and plain.labels["severity"] == "critical"
        assert plain.title.startswith("[CRITICAL]")
