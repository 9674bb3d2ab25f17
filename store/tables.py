"""The store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are integer epoch nanoseconds (``*_ns``), so ranges and orderings are plain
integer comparisons on both engines; each record's full JSON is kept in ``doc``.
Incident versions are append-only; ``incidents`` holds each incident's latest
version plus what operators did to it (acknowledged, resolved).
"""

import sqlalchemy as sa

metadata = sa.MetaData()

incident_versions = sa.Table(
    "incident_versions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("incident_id", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("ix_incident_versions_incident", "incident_id", "version"),
    sa.Index("ix_incident_versions_updated", "updated_ns"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("incident_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("domain", sa.String(256), nullable=False),
    sa.Column("opened_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("resolved_ns", sa.BigInteger),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("acked_ns", sa.BigInteger),
    sa.Column("acked_by", sa.String(256)),
    sa.Column("op_resolved_ns", sa.BigInteger),
    sa.Column("op_resolved_by", sa.String(256)),
    # The list's order (newest first) and its cursor: (opened_ns, incident_id).
    sa.Index("ix_incidents_opened", "opened_ns", "incident_id"),
    sa.Index("ix_incidents_status_opened", "status", "opened_ns", "incident_id"),
    sa.Index("ix_incidents_severity_opened", "severity", "opened_ns", "incident_id"),
    sa.Index("ix_incidents_updated", "updated_ns"),
)

incident_services = sa.Table(
    "incident_services",
    metadata,
    sa.Column("incident_id", sa.String(128), primary_key=True),
    sa.Column("service", sa.String(256), primary_key=True),
    # The incident's opened_ns, copied: a service's incidents come newest first off one index.
    sa.Column("opened_ns", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Index("ix_incident_services_service_opened", "service", "opened_ns", "incident_id"),
)

incident_members = sa.Table(
    "incident_members",
    metadata,
    sa.Column("incident_id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("member_id", sa.String(256), primary_key=True),
    sa.Index("ix_incident_members_member", "kind", "member_id"),
)

incident_actions = sa.Table(
    "incident_actions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("incident_id", sa.String(128), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("by", sa.String(256), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_incident_actions_incident", "incident_id", "at_ns"),
)

anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("series", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("ix_anomalies_ts", "ts_ns"),
)

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("series", sa.Text, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("ix_predictions_ts", "ts_ns"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16)),
    sa.Column("by", sa.String(256), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_feedback_target", "target"),
    sa.Index("ix_feedback_at", "at_ns"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    # One row per alert notification: fingerprint, status and startsAt (re-sends collapse).
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(256), nullable=False),
    sa.Column("rule", sa.String(256), nullable=False),
    sa.Column("service", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("starts_ns", sa.BigInteger, nullable=False),
    sa.Column("event_ns", sa.BigInteger, nullable=False),
    # The alert's own team label ('' without it): analytics.teams maps services at query time.
    sa.Column("team", sa.String(256), nullable=False, server_default=sa.text("''")),
    sa.Index("ix_alerts_event", "event_ns"),
    sa.Index("ix_alerts_fingerprint", "fingerprint"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("received_ns", sa.BigInteger, nullable=False),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Index("ix_dead_letters_received", "received_ns"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    # SHA-256 of the token: tokens are 256-bit random, so a slow KDF adds nothing.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)

# What retention prunes, and the time column it prunes by.
RETAINED: dict[str, tuple[sa.Table, str]] = {
    "anomalies": (anomalies, "ts_ns"),
    "predictions": (predictions, "ts_ns"),
    "feedback": (feedback, "at_ns"),
    "alerts": (alerts, "event_ns"),
    "dead_letters": (dead_letters, "received_ns"),
}
