"""Output records. Their JSON Schemas are exported to ``schemas/jsonschema/``."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "critical"]


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Anomaly(_Output):
    """A sample judged anomalous by the per-series ensemble."""

    id: str = Field(description="Deterministic: derived from the series key and timestamp.")
    series: str = Field(description="Canonical series key: name{sorted labels}.")
    name: str
    labels: dict[str, str]
    ts: str = Field(description="Event time, RFC 3339 UTC.")
    value: float
    score: float = Field(ge=0.0, le=1.0, description="Anomaly score; 1 is most anomalous.")
    expected: float = Field(description="The value the model expected.")
    lower: float = Field(description="Lower edge of the expected band.")
    upper: float = Field(description="Upper edge of the expected band.")
    detectors: list[str] = Field(description="Detectors whose score crossed their threshold.")
    severity: Severity
    interval_s: float | None = Field(
        None, description="Seconds since the series' previous sample; null for its first."
    )


class IncidentMember(_Output):
    """One alert, anomaly, log pattern or prediction attached to an incident."""

    kind: Literal["alert", "anomaly", "log", "prediction"]
    id: str = Field(description="An alert's Alertmanager fingerprint, or the member's record id.")
    ts: str = Field(description="First seen, event time.")
    last_seen: str
    count: int = Field(ge=1, description="Times it was received (re-sends included).")
    episodes: int = Field(
        1,
        ge=1,
        description="An alert's episodes (each a new startsAt) within correlation.flap_window_s,"
        " the current one included: 2 or more is a flapping alert.",
    )
    status: Literal["firing", "resolved"]
    service: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class RootCause(_Output):
    """A candidate root cause with its score and the evidence behind it."""

    service: str
    score: float = Field(ge=0.0, le=1.0)
    evidence: list[str]


class Incident(_Output):
    """One version of an incident; the last version per ``incident_id`` is its state."""

    id: str = Field(description="Deterministic id of this version.")
    incident_id: str
    version: int = Field(ge=1)
    status: Literal["open", "updated", "resolved"]
    domain: str = Field(description="Correlation domain, e.g. the cluster.")
    opened_at: str
    updated_at: str
    resolved_at: str | None = None
    services: list[str]
    members: list[IncidentMember]
    root_causes: list[RootCause]
    severity: Severity
    summary: str
    recommendations: list[str]


class Notification(_Output):
    """Something worth a human's attention after dedup, suppression and thresholds."""

    id: str
    kind: Literal["incident_opened", "incident_escalated", "incident_resolved"]
    incident_id: str
    incident_version: int
    ts: str
    severity: Severity
    title: str
    text: str
    domain: str | None = Field(None, description="The incident's correlation domain.")
    services: list[str] = Field(default_factory=list, description="The incident's services.")
    root_cause: str | None = Field(None, description="The top-ranked likely cause.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels every alert of the incident shares (Alertmanager's commonLabels).",
    )
    receivers: list[str] = Field(
        default_factory=list, description="Where the routing tree sends it (notify.route)."
    )
    suppressed_by: str | None = Field(
        None, description="The silence or maintenance window that held it back; null if sent."
    )


class DeadLetter(_Output):
    """Input that could not be decoded or validated, kept with the reason."""

    id: str = Field(description="Deterministic: derived from source and offset.")
    stream: str = Field(description="Input stream: metrics, alerts, logs, traces or feedback.")
    source: str = Field(description="Topic or file the record came from.")
    partition: int | None = None
    offset: int = Field(description="Kafka offset, or 1-based line number in a file.")
    reason: str
    raw_b64: str = Field(
        description="The message's bytes, base64: redacted and at most redaction.dlq_max_bytes."
    )
    raw_text: str | None = Field(
        default=None, description="The same bytes as text, if the message was UTF-8."
    )
    raw_size: int | None = Field(default=None, description="The whole message's size in bytes.")


OUTPUT_MODELS: dict[str, type[_Output]] = {
    "anomalies": Anomaly,
    "incidents": Incident,
    "notifications": Notification,
    "dlq": DeadLetter,
}
