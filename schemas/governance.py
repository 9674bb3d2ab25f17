"""What keeps a months-long job bounded and its outputs fit to leave.

Idle eviction, output redaction and the audit chain (``AlertflowConfig.governance``).
"""

from pydantic import BaseModel, ConfigDict, Field

AUDIT_STREAM = "audit"  # an output stream beside config.OUTPUT_STREAMS


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdleConfig(_Settings):
    """Keyed state dropped after this much wall time without input (series: ``scoring``).

    Wall time, not event time: a key that stops reporting sees no events to advance its
    own clock. Series have their own ``scoring.series_idle_s``; learned call-graph edges
    age out by ``correlation.topology_ttl_s``; incidents whose alerts stop being re-sent
    resolve after ``correlation.stale_after_s`` and leave the state when they close.
    """

    entity_s: float = Field(
        6 * 3600.0, gt=0, description="A multivariate entity (service/instance) silent this long."
    )
    service_s: float = Field(
        6 * 3600.0,
        gt=0,
        description="A service's trace/log windows and log templates, silent this long.",
    )


class AuditConfig(_Settings):
    """The hash-chained ``audit`` output (``operators.delivery.audit``)."""

    enabled: bool = Field(
        True, description="Every anomaly, incident version, notification and dead letter gets "
        "an audit record chained to the previous one of its partition."
    )
    partitions: int = Field(
        16, ge=1, description="Independent chains, by decision key; fixed per deployment."
    )


class GovernanceConfig(_Settings):
    """Idle eviction, output redaction and audit."""

    idle: IdleConfig = IdleConfig()
    redact_outputs: bool = Field(
        True,
        description="Apply the ``redaction`` rules to labels, annotations, summaries and log "
        "messages of every output record, not only to dead letters.",
    )
    audit: AuditConfig = AuditConfig()
