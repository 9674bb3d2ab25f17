"""What keeps a months-long job bounded and its outputs fit to leave.

Idle eviction, output redaction and the audit chain (``AlertflowConfig.governance``).
"""

import os
from pathlib import Path

from alertflow.schemas.errors import AlertflowError
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



class GovernanceConfig(_Settings):
    """Idle eviction, output redaction and audit."""

    idle: IdleConfig = IdleConfig()
    redact_outputs: bool = Field(
        True,
        description="Apply the ``redaction`` rules to labels, annotations, summaries and log "
        "messages of every output record, not only to dead letters.",
    )
    audit: AuditConfig = AuditConfig()


def resolve_secret(value: str) -> str:
    """A secret's value: ``env:NAME`` reads the environment, ``file:PATH`` a file (stripped).

    So a deployment keeps credentials in a Kubernetes Secret (mounted or as env) and the
    config, the command line and the logged config hold only the reference. Anything
    else is taken literally.

    >>> import os; os.environ["AF_DOCTEST_PW"] = "s3cr3t"
    >>> resolve_secret("env:AF_DOCTEST_PW"), resolve_secret("plain")
    ('s3cr3t', 'plain')
    """
    kind, sep, ref = value.partition(":")
    if not sep or kind not in ("env", "file"):
        return value
    if kind == "env":
        if ref not in os.environ:
            raise SecretUnavailable(f"secret from environment variable {ref}: it is not set")
        return os.environ[ref]
    try:
        return Path(ref).read_text().strip()
    except OSError as exc:
        raise SecretUnavailable(f"secret from file {ref}: {exc.strerror}") from None


class SecretUnavailable(AlertflowError):
    """A secret's environment variable or file is missing."""
