"""Writing the flow's outputs into the store, a batch at a time, idempotent on record ids.

A replay re-emits the same ids, so every insert ignores rows it already has;
the current state of an incident only moves to a higher version.
"""

import hashlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from alertflow.schemas import jsoncodec
from alertflow.schemas.records import AlertEvent
from alertflow.schemas.timefmt import parse_rfc3339_ns
from alertflow.store import tables as t
from sqlalchemy.dialects import postgresql, sqlite

Row = dict[str, Any]


def record_id(*parts: object) -> str:
    """A deterministic 32-hex-digit id, hashed like ``operators.ids.stable_id``.

    >>> record_id("alert", "a1b2", "firing", 5)
    '1c2f03e89753a5a8c6123eea3c3c93fa'
    """
    joined = "".join(f"{part}\x1f" for part in parts)
    return hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def insert_ignoring(conn: sa.Connection, table: sa.Table, rows: list[Row]) -> None:
    """Insert ``rows``, skipping those whose primary key is already stored."""
    if not rows:
        return
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


class StoreWriter:
    """Turns output records (dicts of ``schemas.outputs`` fields) into rows."""

    def __init__(self, engine: sa.Engine, team_label: str = "team") -> None:
        self.engine = engine
        self.team_label = team_label

    def write(self, records: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Store ``(stream, record)`` pairs; streams the store does not keep are skipped."""
        by_stream: dict[str, list[Mapping[str, Any]]] = {}
        for stream, record in records:
            by_stream.setdefault(stream, []).append(record)
        with self.engine.begin() as conn:
            anomalies = [_anomaly(r) for r in by_stream.get("anomalies", [])]
            insert_ignoring(conn, t.anomalies, anomalies)
            insert_ignoring(
                conn, t.predictions, [_prediction(r) for r in by_stream.get("predictions", [])]
            )
            insert_ignoring(
                conn, t.dead_letters, [_dead_letter(r) for r in by_stream.get("dlq", [])]
            )
            if "incidents" in by_stream:
                _write_incidents(conn, by_stream["incidents"])

    def write_alerts(self, events: Iterable[AlertEvent]) -> None:
        """Store alert notifications as the flow received them (for analytics)."""
        rows = {row["id"]: row for row in (alert_row(e, self.team_label) for e in events)}
        with self.engine.begin() as conn:
            insert_ignoring(conn, t.alerts, list(rows.values()))


def alert_row(event: AlertEvent, team_label: str = "team") -> Row:
    """One alert notification; re-sends of the same state share an id."""
    labels = event.labels
    return {
        "id": record_id("alert", event.fingerprint, event.status, event.starts_ns),
        "fingerprint": event.fingerprint,
        "rule": labels.get("alertname", ""),
        "service": _service(labels),
        "status": event.status,
        "starts_ns": event.starts_ns,
        "event_ns": event.event_ns,
        "team": labels.get(team_label, "")[:256],
    }


def _service(labels: Mapping[str, str]) -> str:
    # The usual label names, as the correlator reads them (correlation.alert_dedup.service_of).
    for name in ("service", "service_name", "job", "app", "container"):
        if name in labels:
            return labels[name]
    return ""


def _anomaly(r: Mapping[str, Any]) -> Row:
    return {
        "id": r["id"],
        "series": r["series"],
        "ts_ns": parse_rfc3339_ns(r["ts"]),
        "score": float(r["score"]),
        "severity": r["severity"],
        "doc": jsoncodec.dumps(dict(r)).decode(),
    }


def _prediction(r: Mapping[str, Any]) -> Row:
    ts = r.get("ts") or r.get("at") or r.get("predicted_at")
    return {
        "id": r["id"],
        "series": str(r.get("series", "")),
        "ts_ns": parse_rfc3339_ns(ts) if isinstance(ts, str) else int(ts or 0),
        "doc": jsoncodec.dumps(dict(r)).decode(),
    }


def _dead_letter(r: Mapping[str, Any]) -> Row:
    return {
        "id": r["id"],
        "stream": r["stream"],
        "reason": r["reason"],
        "received_ns": time.time_ns(),
        "doc": jsoncodec.dumps(dict(r)).decode(),
    }


def _write_incidents(conn: sa.Connection, versions: list[Mapping[str, Any]]) -> None:
    rows = [_version_row(v) for v in versions]
    insert_ignoring(conn, t.incident_versions, rows)
    latest: dict[str, Mapping[str, Any]] = {}
    for v in versions:
        held = latest.get(v["incident_id"])
        if held is None or v["version"] > held["version"]:
            latest[v["incident_id"]] = v
    stored = dict(
        conn.execute(
            sa.select(t.incidents.c.incident_id, t.incidents.c.version).where(
                t.incidents.c.incident_id.in_(list(latest))
            )
        ).all()
    )
    newer = [v for i, v in latest.items() if stored.get(i, 0) < v["version"]]
    for v in newer:
        _replace_current(conn, v, exists=v["incident_id"] in stored)


def _version_row(v: Mapping[str, Any]) -> Row:
    return {
        "id": v["id"],
        "incident_id": v["incident_id"],
        "version": v["version"],
        "status": v["status"],
        "updated_ns": parse_rfc3339_ns(v["updated_at"]),
        "doc": jsoncodec.dumps(dict(v)).decode(),
    }


def _replace_current(conn: sa.Connection, v: Mapping[str, Any], exists: bool) -> None:
    incident_id = v["incident_id"]
    state = {
        "version": v["version"],
        "status": v["status"],
        "severity": v["severity"],
        "domain": v["domain"],
        "opened_ns": parse_rfc3339_ns(v["opened_at"]),
        "updated_ns": parse_rfc3339_ns(v["updated_at"]),
        "resolved_ns": parse_rfc3339_ns(v["resolved_at"]) if v.get("resolved_at") else None,
        "doc": jsoncodec.dumps(dict(v)).decode(),
    }
    if exists:
        # Acknowledgements and operator resolutions stay: they are not the flow's to change.
        conn.execute(
            t.incidents.update().where(t.incidents.c.incident_id == incident_id).values(state)
        )
        for table in (t.incident_services, t.incident_members):
            conn.execute(table.delete().where(table.c.incident_id == incident_id))
    else:
        conn.execute(t.incidents.insert().values(incident_id=incident_id, **state))
    opened_ns = state["opened_ns"]
    services = [
        {"incident_id": incident_id, "service": s, "opened_ns": opened_ns}
        for s in dict.fromkeys(v["services"])
    ]
    members = {
        (m["kind"], m["id"]): {"incident_id": incident_id, "kind": m["kind"], "member_id": m["id"]}
        for m in v["members"]
    }
    if services:
        conn.execute(t.incident_services.insert(), services)
    if members:
        conn.execute(t.incident_members.insert(), list(members.values()))
