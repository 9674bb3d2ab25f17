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
    shift: float | None = Field(
        None,
        description="Signed distance from the series' own level over about the last hour, in"
        " its usual spreads (capped at 100); null while the series is new.",
    )
    onset: str | None = Field(
        None,
        description="When the series' current move away from that level began (RFC 3339 UTC);"
        " null while the series is new.",
    )


class IncidentMember(_Output):
    """One alert, anomaly, log pattern or prediction attached to an incident."""

    kind: Literal["alert", "anomaly", "log", "span", "prediction"]
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
    status: Literal["open", "updated", "resolved", "merged"] = Field(
        description="merged: a later alert showed it is part of ``merged_into``'s fault; this"
        " is its last version, and its members now belong to that incident."
    )
    kind: Literal["incident", "noise"] = Field(
        "incident",
        description="noise: the noise digest for one window (correlation.noise_window_s) of "
        "the estate (domain '*', correlation.noise_digest_scope estate) or of one domain, "
        "listing lone alerts that no incident took; it claims no common cause (no "
        "root_causes) and is never announced.",
    )
    taken_by: dict[str, str] = Field(
        default_factory=dict,
        description="In a noise digest: alert fingerprint -> the incident that took it after "
        "it was listed (a second alert joined it, or it turned critical).",
    )
    merged_into: str | None = Field(
        None, description="The incident_id that absorbed this one (status merged)."
    )
    domain: str = Field(
        description="Correlation domain, e.g. the cluster; '*' for the estate's noise digest."
    )
    opened_at: str
    updated_at: str
    resolved_at: str | None = None
    services: list[str]
    members: list[IncidentMember]
    members_omitted: int = Field(
        0, ge=0, description="Members beyond correlation.max_members, counted but not listed."
    )
    root_causes: list[RootCause]
    severity: Severity
    summary: str
    recommendations: list[str]
    outcome: Literal["averted", "happened"] | None = Field(
        None, description="A predicted incident's end: the breach came, or it did not."
    )


class Notification(_Output):
    """Something worth a human's attention after dedup, suppression and thresholds."""

    id: str
    kind: Literal["incident_opened", "incident_escalated", "incident_resolved", "incident_merged"]
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
    learned_severity: Severity | None = Field(
        None, description="The severity model's confident opinion; null before it has data."
    )
    learned_severity_why: str | None = Field(
        None, description="Why the model said so: its confidence and the incident's features."
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


class ThresholdRef(_Output):
    """The threshold a prediction is about."""

    name: str
    direction: Literal["above", "below"]
    level: float


class ForecastPoint(_Output):
    """The forecast at one step ahead, with its prediction interval."""

    ts: str
    value: float
    lower: float
    upper: float


class Recommendation(_Output):
    """A preventive action from the catalogue and the evidence that matched its pattern."""

    id: str
    pattern: str
    actions: list[str]
    evidence: str


class Prediction(_Output):
    """A forecast of one series against a threshold, made at ``ts``."""

    id: str = Field(description="Deterministic: series, threshold and ts.")
    series: str
    name: str
    labels: dict[str, str]
    ts: str = Field(description="When it was made (the last closed bucket), event time.")
    threshold: ThresholdRef
    predicted_breach_at: str | None = Field(
        description="When the forecast crosses the threshold; null: no breach within the horizon."
    )
    confidence: float = Field(
        ge=0.0, le=1.0, description="Probability of a breach within the horizon."
    )
    horizon_s: float
    interval: ForecastPoint | None = Field(
        description="The forecast and its interval at the predicted breach (else the horizon)."
    )
    forecast: list[ForecastPoint] = Field(description="Every step up to the horizon.")
    recommendations: list[Recommendation]
    status: Literal["breach_predicted", "withdrawn", "forecast"] = Field(
        description="A breach predicted, an earlier one no longer expected, or a plain forecast."
    )


OUTPUT_MODELS: dict[str, type[_Output]] = {
    "anomalies": Anomaly,
    "incidents": Incident,
    "notifications": Notification,
    "predictions": Prediction,
    "dlq": DeadLetter,
}
