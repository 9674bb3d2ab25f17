"""Alert analytics, so teams can fix their alerting at the source.

Per rule (``alertname``) and per service: volume (firing notifications), alerts
(distinct fingerprints), flapping alerts (a fingerprint that started more than
once in the range), the share of alerts absorbed into incidents; MTTA and MTTR
from operators' acknowledgements and resolutions; a per-day trend.
"""

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alertflow.schemas.timefmt import format_ns
from alertflow.store import tables as t

DAY_NS = 86_400 * 10**9
TOP = 10


@dataclass(slots=True)
class _Tally:
    notifications: int = 0
    alerts: int = 0
    flapping: int = 0
    absorbed: int = 0

    def add(self, notifications: int, starts: int, absorbed: bool) -> None:
        self.notifications += notifications
        self.alerts += 1
        self.flapping += starts >= 2
        self.absorbed += absorbed

    def row(self) -> dict[str, Any]:
        share = self.absorbed / self.alerts if self.alerts else 0.0
        return {"notifications": self.notifications, "alerts": self.alerts,
                "flapping_alerts": self.flapping, "absorbed_alerts": self.absorbed,
                "absorbed_share": round(share, 4)}


@dataclass(slots=True)
class AlertAnalytics:
    """The figures of one time range."""

    from_ns: int
    to_ns: int
    rules: dict[str, _Tally] = field(default_factory=dict)
    services: dict[str, _Tally] = field(default_factory=dict)
    incidents: dict[str, Any] = field(default_factory=dict)
    trend: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API answers."""
        rules = _rows(self.rules, "rule")
        return {
            "from": format_ns(self.from_ns),
            "to": format_ns(self.to_ns),
            "rules": rules,
            "services": _rows(self.services, "service"),
            "noisiest_rules": [r["rule"] for r in rules[:TOP] if r["notifications"]],
            "flapping_rules": [
                r["rule"]
                for r in sorted(rules, key=lambda r: -r["flapping_alerts"])
                if r["flapping_alerts"]
            ][:TOP],
            "incidents": self.incidents,
            "trend": self.trend,
        }


def _rows(tallies: dict[str, _Tally], name: str) -> list[dict[str, Any]]:
    rows = [{name: key, **tally.row()} for key, tally in tallies.items()]
    return sorted(rows, key=lambda r: (-r["notifications"], r[name]))


def alert_analytics(engine: sa.Engine, from_ns: int, to_ns: int) -> AlertAnalytics:
    """Compute the analytics of alerts received and incidents opened in [from_ns, to_ns)."""
    result = AlertAnalytics(from_ns, to_ns)
    a = t.alerts.c
    in_range = sa.and_(a.event_ns >= from_ns, a.event_ns < to_ns)
    absorbed = sa.select(t.incident_members.c.member_id).where(
        t.incident_members.c.kind == "alert"
    )
    per_alert = (
        sa.select(
            a.rule,
            a.service,
            a.fingerprint,
            sa.func.count().filter(a.status == "firing").label("notifications"),
            sa.func.count(sa.distinct(a.starts_ns)).label("starts"),
            sa.func.max(sa.case((a.fingerprint.in_(absorbed), 1), else_=0)).label("absorbed"),
        )
        .where(in_range)
        .group_by(a.rule, a.service, a.fingerprint)
    )
    day = (a.event_ns - a.event_ns % DAY_NS).label("day")
    alert_days = sa.select(day, sa.func.count()).where(in_range, a.status == "firing").group_by(day)
    with engine.connect() as conn:
        for row in conn.execute(per_alert):
            for key, tallies in ((row.rule, result.rules), (row.service, result.services)):
                tallies.setdefault(key, _Tally()).add(row.notifications, row.starts, row.absorbed)
        result.incidents = _incident_times(conn, from_ns, to_ns)
        result.trend = _trend(conn, dict(conn.execute(alert_days).all()), from_ns, to_ns)
    return result


def _incident_times(conn: sa.Connection, from_ns: int, to_ns: int) -> dict[str, Any]:
    c = t.incidents.c
    resolved = sa.func.coalesce(c.op_resolved_ns, c.resolved_ns)
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(c.acked_ns),
            sa.func.count(resolved),
            sa.func.avg(c.acked_ns - c.opened_ns),
            sa.func.avg(resolved - c.opened_ns),
        ).where(c.opened_ns >= from_ns, c.opened_ns < to_ns)
    ).one()
    opened, acked, done, tta, ttr = row
    return {
        "opened": opened,
        "acknowledged": acked,
        "resolved": done,
        "mtta_s": None if tta is None else round(float(tta) / 1e9, 3),
        "mttr_s": None if ttr is None else round(float(ttr) / 1e9, 3),
    }


def _trend(
    conn: sa.Connection, alerts_per_day: dict[int, int], from_ns: int, to_ns: int
) -> list[dict[str, Any]]:
    c = t.incidents.c
    day = (c.opened_ns - c.opened_ns % DAY_NS).label("day")
    opened = dict(
        conn.execute(
            sa.select(day, sa.func.count())
            .where(c.opened_ns >= from_ns, c.opened_ns < to_ns)
            .group_by(day)
        ).all()
    )
    days = sorted(set(alerts_per_day) | set(opened))
    return [
        {"day": format_ns(d)[:10], "notifications": alerts_per_day.get(d, 0),
         "incidents_opened": opened.get(d, 0)}
        for d in days
    ]
