"""Alert grouping into incidents: sessions in event time per correlation domain.

A firing alert joins an open incident of its domain that still has a firing
member, whose newest member started within ``session_gap_s`` before it, and
that is related to it: one of its services within ``max_hops`` of the alert's
service in the call graph (learned from traces or given statically). When the
graph knows neither side, time alone decides. The nearest, then most recent,
such incident wins; otherwise the alert opens a new one. Re-sends of
firing alerts do not extend a session, so a long-running incident does not
swallow unrelated later alerts. An incident resolves once every member has
resolved and ``quiet_period_s`` of event time has passed without a new one.
Each change emits a new incident version. Notifications carry only what deserves a
human: an incident is announced once it has two members, is critical, or has kept
firing for ``notify_after_s``; after that its escalation and resolution. A lone
warning that resolves sooner (a flap, a blip) stays in ``incidents`` but is never
announced, nor is its resolution.
"""

from dataclasses import dataclass, field

from operators.alert_dedup import AlertMember, Change, apply_event, service_of
from operators.decisions import Decision
from operators.eventclock import EventClock
from operators.ids import stable_id
from operators.incident_render import render_incident, render_notification
from operators.topology import ServiceGraph
from schemas.outputs import Incident
from schemas.records import AlertEvent, SpanEvent
from schemas.timefmt import NS_PER_S

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_SEVERITY_ALIASES = {
    "page": "critical",
    "error": "critical",
    "high": "critical",
    "major": "critical",
}


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """Session and lifecycle bounds, in event-time seconds."""

    session_gap_s: float = 600.0
    quiet_period_s: float = 300.0
    stale_after_s: float = 4 * 3600.0
    lateness_s: float = 60.0
    max_hops: int = 2
    topology_ttl_s: float = 24 * 3600.0
    notify_after_s: float = 300.0


@dataclass(slots=True)
class IncidentState:
    """An open incident's members and lifecycle."""

    incident_id: str
    domain: str
    opened_ns: int
    updated_ns: int
    last_activity_ns: int
    last_onset_ns: int
    members: dict[str, AlertMember] = field(default_factory=dict)
    version: int = 0
    notified_severity: str = "info"
    notified: bool = False
    resolved_ns: int | None = None

    @property
    def severity(self) -> str:
        """The highest severity among members."""
        best = "info"
        for member in self.members.values():
            sev = alert_severity(member.labels)
            if SEVERITY_RANK[sev] > SEVERITY_RANK[best]:
                best = sev
        return best

    def quiet_deadline(self, quiet_ns: int) -> int | None:
        """When the incident may resolve, if every member has resolved."""
        ends = [m.resolved_ns for m in self.members.values()]
        if any(end is None for end in ends):
            return None
        return max(max(end for end in ends if end is not None), self.last_activity_ns) + quiet_ns


def alert_severity(labels: dict[str, str]) -> str:
    """Map an alert's ``severity`` label onto info/warning/critical."""
    raw = labels.get("severity", "warning").lower()
    raw = _SEVERITY_ALIASES.get(raw, raw)
    return raw if raw in SEVERITY_RANK else "warning"


class IncidentGrouper:
    """Groups one correlation domain's alerts into incidents."""

    def __init__(self, domain: str, settings: IncidentSettings | None = None) -> None:
        self.domain = domain
        self.settings = settings or IncidentSettings()
        self.clock = EventClock(int(self.settings.lateness_s * NS_PER_S))
        self.incidents: dict[str, IncidentState] = {}
        self.by_fingerprint: dict[str, str] = {}
        self.graph = ServiceGraph(ttl_s=self.settings.topology_ttl_s)

    def on_spans(self, spans: list[SpanEvent]) -> None:
        """Learn the domain's call graph from spans."""
        self.graph.observe(spans)

    def on_alert(self, event: AlertEvent, wall_ns: int) -> list[Decision]:
        """Fold one alert event in, then close what the watermark allows."""
        self.clock.observe(event.event_ns, wall_ns)
        incident_id = self.by_fingerprint.get(event.fingerprint)
        incident = self.incidents.get(incident_id) if incident_id else None
        member = incident.members.get(event.fingerprint) if incident else None
        member, change = apply_event(member, event)
        out: list[Decision] = []
        if change is Change.NEW and member is not None:
            incident = self._session_for(event)
            if incident is None:
                incident = self._open(event)
            incident.members[event.fingerprint] = member
            incident.last_onset_ns = max(incident.last_onset_ns, event.starts_ns)
            self.by_fingerprint[event.fingerprint] = incident.incident_id
        if incident is not None and change not in (Change.STALE_RESOLVE, Change.REPEAT):
            incident.last_activity_ns = max(incident.last_activity_ns, event.event_ns)
            incident.updated_ns = max(incident.updated_ns, event.event_ns)
            out.extend(self._emit(incident, (event.ref,), event.read_ns, wall_ns))
        out.extend(self.on_tick(wall_ns))
        return out

    def on_tick(self, wall_ns: int) -> list[Decision]:
        """Resolve stale members and incidents whose quiet period has passed."""
        watermark = self.clock.watermark(wall_ns)
        if watermark is None:
            return []
        out: list[Decision] = []
        for incident in list(self.incidents.values()):
            self._expire_stale(incident, watermark)
            deadline = incident.quiet_deadline(int(self.settings.quiet_period_s * NS_PER_S))
            if deadline is not None and deadline <= watermark:
                out.extend(self._resolve(incident, deadline))
            elif not incident.notified and self._worth_notifying(incident, watermark):
                # Kept firing long enough: announce the current version.
                record = render_incident(incident, self.graph)
                out.append(self._notification("incident_opened", incident, record, (), 0))
        return out

    def flush(self) -> list[Decision]:
        """End of a bounded input: resolve every incident whose members have all resolved."""
        out: list[Decision] = []
        for incident in list(self.incidents.values()):
            deadline = incident.quiet_deadline(int(self.settings.quiet_period_s * NS_PER_S))
            if deadline is not None:
                out.extend(self._resolve(incident, deadline))
        return out

    def next_deadline_wall(self) -> int | None:
        """Wall time of the next possible close, for the engine's timer."""
        quiet_ns = int(self.settings.quiet_period_s * NS_PER_S)
        stale_ns = int(self.settings.stale_after_s * NS_PER_S)
        deadlines = []
        for incident in self.incidents.values():
            deadline = incident.quiet_deadline(quiet_ns)
            if deadline is None:
                deadline = min(m.last_ns for m in incident.members.values() if m.status == "firing")
                deadline += stale_ns
                if not incident.notified:
                    deadline = min(deadline, incident.opened_ns + self._notify_after_ns)
            deadlines.append(deadline)
        return self.clock.wall_when(min(deadlines)) if deadlines else None

    def _session_for(self, event: AlertEvent) -> IncidentState | None:
        gap_ns = int(self.settings.session_gap_s * NS_PER_S)
        service = service_of(event.labels)
        best: tuple[int, int, str] | None = None
        chosen = None
        for inc in self.incidents.values():
            if inc.last_onset_ns < event.starts_ns - gap_ns:
                continue
            if not any(m.status == "firing" for m in inc.members.values()):
                continue
            hops = self._hops(service, inc)
            if hops is None:
                continue
            rank = (hops, -inc.last_onset_ns, inc.incident_id)
            if best is None or rank < best:
                best, chosen = rank, inc
        return chosen

    def _hops(self, service: str | None, incident: IncidentState) -> int | None:
        """Call-graph distance to the incident's nearest service; 0 when topology can't tell."""
        services = {m.service for m in incident.members.values() if m.service}
        if service is None or service in services:
            return 0
        if not self.graph.known(service) or not any(self.graph.known(s) for s in services):
            return 0
        hops = [self.graph.distance(service, s, self.settings.max_hops) for s in services]
        reachable = [h for h in hops if h is not None]
        return min(reachable) if reachable else None

    def _open(self, event: AlertEvent) -> IncidentState:
        incident_id = stable_id(self.domain, event.fingerprint, event.starts_ns)
        incident = IncidentState(
            incident_id=incident_id,
            domain=self.domain,
            opened_ns=event.starts_ns,
            updated_ns=event.starts_ns,
            last_activity_ns=event.starts_ns,
            last_onset_ns=event.starts_ns,
        )
        self.incidents[incident_id] = incident
        return incident

    def _expire_stale(self, incident: IncidentState, watermark: int) -> None:
        stale_ns = int(self.settings.stale_after_s * NS_PER_S)
        for member in incident.members.values():
            if member.status == "firing" and member.last_ns + stale_ns <= watermark:
                # Alertmanager re-sends firing alerts; silence this long means the source is gone.
                member.status = "resolved"
                member.resolved_ns = member.last_ns + stale_ns

    def _resolve(self, incident: IncidentState, at_ns: int) -> list[Decision]:
        incident.resolved_ns = at_ns
        incident.updated_ns = max(incident.updated_ns, at_ns)
        out = self._emit(incident, (), 0, None)
        del self.incidents[incident.incident_id]
        for fingerprint in incident.members:
            if self.by_fingerprint.get(fingerprint) == incident.incident_id:
                del self.by_fingerprint[fingerprint]
        return out

    @property
    def _notify_after_ns(self) -> int:
        return int(self.settings.notify_after_s * NS_PER_S)

    def _worth_notifying(self, incident: IncidentState, watermark: int | None) -> bool:
        if len(incident.members) >= 2 or incident.severity == "critical":
            return True
        firing = any(m.status == "firing" for m in incident.members.values())
        lasted = watermark is not None and watermark - incident.opened_ns >= self._notify_after_ns
        return firing and lasted

    def _emit(
        self, incident: IncidentState, inputs: tuple[str, ...], read_ns: int, wall_ns: int | None
    ) -> list[Decision]:
        incident.version += 1
        record = render_incident(incident, self.graph)
        out = [Decision("incidents", incident.incident_id, record, inputs, read_ns)]
        kind = None
        if not incident.notified:
            watermark = self.clock.watermark(wall_ns) if wall_ns is not None else None
            if incident.resolved_ns is None and self._worth_notifying(incident, watermark):
                kind = "incident_opened"
        elif incident.resolved_ns is not None:
            kind = "incident_resolved"
        elif SEVERITY_RANK[incident.severity] > SEVERITY_RANK[incident.notified_severity]:
            kind = "incident_escalated"
        if kind is not None:
            out.append(self._notification(kind, incident, record, inputs, read_ns))
        return out

    def _notification(
        self,
        kind: str,
        incident: IncidentState,
        record: Incident,
        inputs: tuple[str, ...],
        read_ns: int,
    ) -> Decision:
        incident.notified = True
        incident.notified_severity = max(
            incident.severity, incident.notified_severity, key=SEVERITY_RANK.__getitem__
        )
        note = render_notification(kind, record)
        return Decision("notifications", incident.incident_id, note, inputs, read_ns)
