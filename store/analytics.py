"""Alert analytics, so teams can fix their alerting at the source.

Per rule (``alertname``), per service and per team: volume (firing notifications),
alerts (distinct fingerprints), flapping alerts (a fingerprint that started more
than once in the range), the share of alerts absorbed into incidents, and the
incidents those alerts are in with their MTTA and MTTR (from operators'
acknowledgements and resolutions); trends per day and per ISO week (Monday).

An alert's team is its own team label, else its service's team in
``AnalyticsConfig.teams``, else ``unassigned``. An incident counts for every rule,
service and team of its member alerts, and for the teams of its services.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alertflow.schemas.config_analytics import AnalyticsConfig
from alertflow.schemas.timefmt import format_ns
from alertflow.store import tables as t

DAY_NS = 86_400 * 10**9
WEEK_NS = 7 * DAY_NS
_MONDAY_NS = 4 * DAY_NS  # 1970-01-05, the first Monday after the epoch
TOP = 10
DIMENSIONS = ("rule", "service", "team")


@dataclass(slots=True)
class _Times:
    """Incidents with their summed times to acknowledge and to resolve."""

    incidents: int = 0
    acked: int = 0
    resolved: int = 0
    tta_ns: int = 0
    ttr_ns: int = 0

    def add(self, opened: int, acked: int | None, resolved: int | None) -> None:
        self.incidents += 1
        if acked is not None:
            self.acked += 1
            self.tta_ns += acked - opened
        if resolved is not None:
            self.resolved += 1
            self.ttr_ns += resolved - opened

    def row(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "mtta_s": round(self.tta_ns / self.acked / 1e9, 3) if self.acked else None,
            "mttr_s": round(self.ttr_ns / self.resolved / 1e9, 3) if self.resolved else None,
        }


@dataclass(slots=True)
class _Tally:
    notifications: int = 0
    alerts: int = 0
    flapping: int = 0
    absorbed: int = 0
    times: _Times = field(default_factory=_Times)
    by_rule: dict[str, int] = field(default_factory=dict)  # notifications per rule

    def add(self, rule: str, notifications: int, starts: int, absorbed: bool) -> None:
        self.notifications += notifications
        self.alerts += 1
        self.flapping += starts >= 2
        self.absorbed += absorbed
        self.by_rule[rule] = self.by_rule.get(rule, 0) + notifications

    def row(self) -> dict[str, Any]:
        share = self.absorbed / self.alerts if self.alerts else 0.0
        noisiest = max(self.by_rule.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
        return {"notifications": self.notifications, "alerts": self.alerts,
                "flapping_alerts": self.flapping, "absorbed_alerts": self.absorbed,
                "absorbed_share": round(share, 4), **self.times.row(),
                "noisiest_rule": noisiest[0] if noisiest[1] else None}


@dataclass(slots=True)
class AlertAnalytics:
    """The figures of one time range (of one team's alerts when ``team`` is set)."""

    from_ns: int
    to_ns: int
    team: str | None = None
    tallies: dict[str, dict[str, _Tally]] = field(
        default_factory=lambda: {d: {} for d in DIMENSIONS}
    )
    overall: _Times = field(default_factory=_Times)
    alerts_per_day: dict[int, int] = field(default_factory=dict)
    opened_per_day: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API answers."""
        rules = _rows(self.tallies["rule"], "rule")
        incidents = self.overall.row()
        return {
            "from": format_ns(self.from_ns),
            "to": format_ns(self.to_ns),
            "team": self.team,
            "rules": rules,
            "services": _rows(self.tallies["service"], "service"),
            "teams": _rows(self.tallies["team"], "team"),
            "noisiest_rules": [r["rule"] for r in rules[:TOP] if r["notifications"]],
            "flapping_rules": [
                r["rule"]
                for r in sorted(rules, key=lambda r: -r["flapping_alerts"])
                if r["flapping_alerts"]
            ][:TOP],
            "incidents": {
                "opened": incidents["incidents"],
                "acknowledged": self.overall.acked,
                "resolved": self.overall.resolved,
                "mtta_s": incidents["mtta_s"],
                "mttr_s": incidents["mttr_s"],
            },
            "trend": _trend(self.alerts_per_day, self.opened_per_day, DAY_NS, 0, "day"),
            "weekly": _trend(self.alerts_per_day, self.opened_per_day, WEEK_NS, _MONDAY_NS, "week"),
        }


def _rows(tallies: dict[str, _Tally], name: str) -> list[dict[str, Any]]:
    rows = [{name: key, **tally.row()} for key, tally in tallies.items()]
    return sorted(rows, key=lambda r: (-r["notifications"], -r["incidents"], r[name]))


def _trend(
    alerts: dict[int, int], opened: dict[int, int], width: int, origin: int, name: str
) -> list[dict[str, Any]]:
    buckets: dict[int, list[int]] = {}
    for counts, i in ((alerts, 0), (opened, 1)):
        for day, n in counts.items():
            buckets.setdefault(day - (day - origin) % width, [0, 0])[i] += n
    return [
        {name: format_ns(b)[:10], "notifications": n, "incidents_opened": o}
        for b, (n, o) in sorted(buckets.items())
    ]


def alert_analytics(
    engine: sa.Engine,
    from_ns: int,
    to_ns: int,
    config: AnalyticsConfig | None = None,
    team: str | None = None,
) -> AlertAnalytics:
    """Analytics of alerts received and incidents opened in [from_ns, to_ns).

    With ``team``, only that team's alerts and incidents count.
    """
    config = config or AnalyticsConfig()
    result = AlertAnalytics(from_ns, to_ns, team)
    with engine.connect() as conn:
        for row in conn.execute(_per_alert(from_ns, to_ns)):
            owner = config.team_of(row.team, row.service)
            if team is not None and owner != team:
                continue
            for dim, key in zip(DIMENSIONS, (row.rule, row.service, owner), strict=True):
                tally = result.tallies[dim].setdefault(key, _Tally())
                tally.add(row.rule, row.notifications, row.starts, bool(row.absorbed))
        for day, service, label, n in conn.execute(_alerts_per_day(from_ns, to_ns)):
            if team is None or config.team_of(label, service) == team:
                result.alerts_per_day[day] = result.alerts_per_day.get(day, 0) + n
        _add_incidents(conn, result, config)
    return result


def _per_alert(from_ns: int, to_ns: int) -> sa.Select:
    a = t.alerts.c
    absorbed = sa.select(t.incident_members.c.member_id).where(
        t.incident_members.c.kind == "alert"
    )
    return (
        sa.select(
            a.rule,
            a.service,
            a.team,
            sa.func.count().filter(a.status == "firing").label("notifications"),
            sa.func.count(sa.distinct(a.starts_ns)).label("starts"),
            sa.func.max(sa.case((a.fingerprint.in_(absorbed), 1), else_=0)).label("absorbed"),
        )
        .where(a.event_ns >= from_ns, a.event_ns < to_ns)
        .group_by(a.rule, a.service, a.team, a.fingerprint)
    )


def _alerts_per_day(from_ns: int, to_ns: int) -> sa.Select:
    a = t.alerts.c
    day = (a.event_ns - a.event_ns % DAY_NS).label("day")
    return (
        sa.select(day, a.service, a.team, sa.func.count())
        .where(a.event_ns >= from_ns, a.event_ns < to_ns, a.status == "firing")
        .group_by(day, a.service, a.team)
    )


def _add_incidents(conn: sa.Connection, result: AlertAnalytics, config: AnalyticsConfig) -> None:
    """Each incident's times, counted overall and for each of its rules, services, teams."""
    c = t.incidents.c
    in_range = sa.and_(c.opened_ns >= result.from_ns, c.opened_ns < result.to_ns)
    ids = sa.select(c.incident_id).where(in_range).scalar_subquery()
    keys: dict[str, dict[str, set[str]]] = {}
    s = t.incident_services.c
    for incident_id, service in conn.execute(
        sa.select(s.incident_id, s.service).where(s.incident_id.in_(ids))
    ):
        entry = keys.setdefault(incident_id, _empty_keys())
        entry["service"].add(service)
        if service in config.teams:
            entry["team"].add(config.teams[service])
    for incident_id, rule, service, label in conn.execute(_member_alerts(ids)):
        entry = keys.setdefault(incident_id, _empty_keys())
        entry["rule"].add(rule)
        entry["team"].add(config.team_of(label, service))
    resolved = sa.func.coalesce(c.op_resolved_ns, c.resolved_ns)
    for incident_id, opened, acked, done in conn.execute(
        sa.select(c.incident_id, c.opened_ns, c.acked_ns, resolved).where(in_range)
    ):
        entry = keys.get(incident_id) or _empty_keys()
        if not entry["team"]:
            entry["team"].add(config.team_of("", ""))
        if result.team is not None and result.team not in entry["team"]:
            continue
        result.overall.add(opened, acked, done)
        day = opened - opened % DAY_NS
        result.opened_per_day[day] = result.opened_per_day.get(day, 0) + 1
        for dim in DIMENSIONS:
            _count(result.tallies[dim], _own(result, config, dim, entry[dim]), opened, acked, done)


def _own(result: AlertAnalytics, config: AnalyticsConfig, dim: str, keys: set[str]) -> set[str]:
    """Of an incident's keys, those of the team asked for (its rules, services; itself)."""
    if result.team is None:
        return keys
    if dim == "team":
        return {result.team}
    mapped = {s for s, owner in config.teams.items() if owner == result.team}
    return {k for k in keys if k in result.tallies[dim] or (dim == "service" and k in mapped)}


def _member_alerts(ids: sa.ScalarSelect) -> sa.Select:
    m, a = t.incident_members.c, t.alerts.c
    return (
        sa.select(m.incident_id, a.rule, a.service, a.team)
        .join(t.alerts, a.fingerprint == m.member_id)
        .where(m.kind == "alert", m.incident_id.in_(ids))
        .distinct()
    )


def _empty_keys() -> dict[str, set[str]]:
    return {d: set() for d in DIMENSIONS}


def _count(
    tallies: dict[str, _Tally], keys: Iterable[str], opened: int, acked: int | None,
    done: int | None,
) -> None:
    for key in keys:
        tallies.setdefault(key, _Tally()).times.add(opened, acked, done)
