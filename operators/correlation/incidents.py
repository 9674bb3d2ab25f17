"""Grouping of alerts and anomalies into incidents: sessions in event time per domain.

A firing alert joins an open incident of its domain that still has a firing
alert of its own fault, whose newest such alert started within ``session_gap_s``
before it, and that is related to its fault: the alert's service calls one of the
incident's likely causes (within ``effect_hops``), or is a dependency of one (within
``max_hops``) whose alert started no later than ``cause_lag_s`` after it, in the call
graph learned from traces or given statically (``operators.correlation.fault_relation``); not
merely near any member. With ``split``, a new kind of alert with a second root below it
(a dependency anomalous after the fault's causes: ``fault_relation.second_root``) is kept
apart, and an alert goes first to an incident whose alerts share its name. When the
graph knows neither side, time alone decides. Where
the graph says the alert is unrelated, it still joins an incident with an alert
that shares one of its ``join_labels`` values (the same node, say), or an alert
of the same kind (``operators.correlation.alert_clusters``) that started within
``similar_window_s`` of it: an alert storm shares a cause the call graph does not
show. So does an alert that, in this domain's history, has kept starting shortly
after one firing there: an inhibit rule learned instead of written
(``operators.correlation.inhibition``). Alerts related only so are members, but neither extend
the session nor keep the incident joinable. The nearest, then most recent, such
incident wins; otherwise the alert opens a new one. ``helper_alerts`` (Watchdog,
InfoInhibitor) are never members; infrastructure alerts (no service, or an
exporter's: ``operators.correlation.fault_relation``) relate only through their node. Re-sends of
firing alerts are one member and do not extend a session, so a long-running
incident does not swallow unrelated later alerts; they do refresh when the
member was last seen.

An anomalous series is one member however many of its samples fire. It joins a
related incident that has alerts (through any of its members' services); else
it waits, bounded, as evidence that an alert opening a related incident
gathers. Evidence never relates alerts to each other. With ``anomaly_incidents``
a non-``info`` anomaly opens an incident of its own instead. An anomaly member
resolves once its series has been quiet for ``anomaly_hold_s``. An incident
resolves once every member has resolved and ``quiet_period_s`` of event time has
passed without a new one.

Flapping alerts are damped. An alert whose episode (a startsAt) is not its first
within ``flap_window_s`` is flapping: its incident waits, after the alert resolves,
one and a half times the longest gap between those episodes' starts (at least
``quiet_period_s``, at most ``flap_hold_max_s``). The next episode then re-fires the
member of an incident still open, instead of opening and announcing a new incident
each time; the incident resolves once the alert has stayed resolved that long.

Each change emits a new incident version, once the incident is worth a record:
it has an alert, or anomalies on at least two services. Notifications carry only
what deserves a human: an incident with alerts is announced once it has two
alerts or is critical (and, if ``notify_after_s`` is set, once a lone warning has
kept firing that long: a lone warning is a record, a ticket, by default); one made of
anomalies alone once it spans two services and one of them is critical; after
that its escalation and resolution. A lone warning that resolves sooner (a flap,
a blip) stays in ``incidents`` but is never announced, nor is its resolution.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from alertflow.operators.correlation.alert_clusters import AlertClusters
from alertflow.operators.correlation.alert_dedup import (
    SEVERITY_RANK,
    AlertMember,
    Change,
    apply_event,
)
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal, apply_anomaly
from alertflow.operators.correlation.fault_relation import (
    NodeIndex,
    Relation,
    onsets,
    relate_infrastructure,
    relate_to_causes,
    second_root,
)
from alertflow.operators.correlation.incident_merge import absorb, render_merged, survivor_first
from alertflow.operators.correlation.incident_render import render_incident, render_notification
from alertflow.operators.correlation.inhibition import (
    InhibitionSettings,
    LearnedInhibition,
    alert_kind,
)
from alertflow.operators.correlation.member_bound import strength, to_evict
from alertflow.operators.correlation.session_index import SessionIndex, keys_of
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.decisions import Decision, Record
from alertflow.operators.eventclock import EventClock
from alertflow.operators.ids import stable_id
from alertflow.operators.log_patterns import LogSignal, apply_log
from alertflow.operators.prediction.recommendations import Catalogue
from alertflow.operators.span_faults import SpanSignal, apply_span
from alertflow.schemas.records import AlertEvent, SpanEvent
from alertflow.schemas.timefmt import NS_PER_S

_NEVER = 2**63 - 1


def _keeping_open(incident: "IncidentState", kind: str) -> Iterable[AlertMember]:
    """The members whose firing keeps an incident joinable: for an alert, its fault's alerts."""
    if kind == "alert" and incident.alerts:
        return [m for m in incident.alerts if m.own_fault]
    return incident.members.values()


def _relating(incident: "IncidentState", kind: str) -> Iterable[AlertMember]:
    """The members a newcomer of ``kind`` relates to: an alert only to alerts, if any.

    Anomalies gathered around alerts are evidence, not a bridge to further alerts.
    """
    return incident.alerts if kind == "alert" and incident.alerts else incident.members.values()


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """Session and lifecycle bounds, in event-time seconds."""

    session_gap_s: float = 600.0
    quiet_period_s: float = 300.0
    stale_after_s: float = 4 * 3600.0
    lateness_s: float = 60.0
    max_hops: int = 2  # a newcomer below a likely cause (its dependency) joins within this
    effect_hops: int = 4  # ...a newcomer above one (it calls it, a symptom) within this
    # A dependency alerting this much after a cause may be the cause (a longer `for:`); 600
    # over 300 and 900 on bench seed 0 with every situation (F1, top-1, top-3 pooled).
    cause_lag_s: float = 600.0
    topology_ttl_s: float = 24 * 3600.0
    notify_after_s: float | None = None  # lone warnings: announce after this long, or never
    anomaly_hold_s: float = 600.0
    anomaly_incidents: bool = False
    max_evidence: int = 10_000
    max_closed: int = 10_000
    closed_memory_s: float = 24 * 3600.0
    evidence_interval_s: float = 300.0  # anomalies joining: at most one version per this
    flap_window_s: float = 3600.0  # episodes of one alert started within this are flapping
    flap_hold_max_s: float = 3600.0  # the longest quiet a flapping alert holds its incident
    max_starts: int = 8  # episode starts remembered per fingerprint
    join_labels: tuple[str, ...] = ("node",)  # alerts sharing a value of one are related
    similar_window_s: float = 120.0  # alerts of one kind starting this close are related
    similarity: float = 0.6  # Jaccard of the words of two alerts of one kind
    learned_inhibition: bool = True  # learn "B follows A" rules and relate by them
    inhibition_window_s: float = 300.0  # B follows A when it starts within this after A
    # Alertmanager's heartbeat and inhibition helper: never members of an incident.
    helper_alerts: tuple[str, ...] = ("Watchdog", "InfoInhibitor")
    # An alert that is a likely cause of two open incidents merges them (incident_merge).
    merge: bool = True
    # Metrics date a start without a `for:`: a metrics-dated dependency is a cause only this
    # close after a cause; a later one below a new kind of alert is a second root (split).
    split: bool = True
    sign_tolerance_s: float = 120.0
    wave_s: float | None = None  # a new kind of alert this long into a fault: a second one
    max_members: int = 500  # listed per incident; the rest counted (bounded state, versions)
    session_index: bool = True  # look up candidates (correlation.session_index), not scan all
    # Preventive actions whose matchers an incident's members select (issue 14); None: none.
    catalogue: Catalogue | None = None


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
    versioned_ns: int = 0  # event time of the last version
    pending_evidence: bool = False  # anomalies joined since the last version
    ranked: tuple | None = None  # (hash of what the ranking read, its causes): incident_render
    recommended: tuple | None = None  # (hash of the members, catalogue lines): incident_render
    merged_into: str | None = None  # the incident that absorbed this one (incident_merge)
    omitted: int = 0  # members beyond max_members, counted and dropped
    omitted_alerts: set[str] = field(default_factory=set)  # ...of them, the alerts

    @property
    def alerts(self) -> list[AlertMember]:
        """The members that are alerts."""
        return [m for m in self.members.values() if m.kind == "alert"]

    @property
    def severity(self) -> str:
        """The highest severity among the alerts; among the anomalies when there is none.

        Alerts carry the severity their owners chose; an anomaly's is the scorer's
        opinion, so it decides only for incidents that no alert speaks for.
        """
        deciding = self.alerts or list(self.members.values())
        best = "info"
        for member in deciding:
            if SEVERITY_RANK[member.severity] > SEVERITY_RANK[best]:
                best = member.severity
        return best

    @property
    def worth_a_record(self) -> bool:
        """An alert, or anomalies on two services or more."""
        if self.alerts:
            return True
        return len({m.service for m in self.members.values() if m.service}) >= 2

    def quiet_deadline(self, quiet_ns: int, linger_ns: int = 0) -> int | None:
        """When the incident may resolve, if every member that decides has resolved.

        Around alerts the alerts decide. Evidence still active when they end keeps the
        incident open a while longer, until it quiets down too, but at most ``linger_ns``
        past the alerts' last end: a series anomalous every few minutes must not keep an
        incident open for ever (bench/correlation_scale.py once showed 64 h). A flapping
        alert holds it longer from its own end (its ``hold_ns``): the flap damping.
        """
        alerts = self.alerts
        deciding = alerts or list(self.members.values())
        ends = [m.resolved_ns for m in deciding]
        if any(end is None for end in ends):
            return None
        last_end = max(end for end in ends if end is not None)
        quiet = max(last_end, self.last_activity_ns) + quiet_ns
        held = [m.resolved_ns + m.hold_ns for m in deciding if m.hold_ns and m.resolved_ns]
        if alerts and len(alerts) < len(self.members):
            evidence = [m.resolved_ns for m in self.members.values() if m.kind != "alert"]
            linger = last_end + linger_ns
            if any(end is None for end in evidence):
                held.append(linger)
            else:
                held.append(min(linger, max(e for e in evidence if e is not None) + quiet_ns))
        return max([quiet, *held])


class IncidentGrouper:
    """Groups one correlation domain's alerts into incidents."""

    def __init__(self, domain: str, settings: IncidentSettings | None = None) -> None:
        self.domain = domain
        self.settings = settings or IncidentSettings()
        self.clock = EventClock(int(self.settings.lateness_s * NS_PER_S))
        self.incidents: dict[str, IncidentState] = {}
        self.by_fingerprint: dict[str, str] = {}
        self.evidence: OrderedDict[str, AlertMember] = OrderedDict()  # anomalies in no incident
        # Lower bounds on when on_tick has work: it skips the scan of every incident before.
        self._due_ns = _NEVER
        self._evidence_due_ns = _NEVER
        # (fingerprint, startsAt) of closed episodes -> (lifecycles, resolved by its source,
        # when its incident closed), oldest close first
        self.closed: OrderedDict[tuple[str, int], tuple[int, bool, int]] = OrderedDict()
        # fingerprint -> startsAt of its latest episodes (ascending), least recently fired first
        self.starts: OrderedDict[str, list[int]] = OrderedDict()
        self.graph = ServiceGraph(ttl_s=self.settings.topology_ttl_s)
        self.nodes = NodeIndex()
        self._waiting: dict[str, int] | None = None  # scratch of one _session_for call
        self.connects: list[IncidentState] = []  # ...and the incidents its alert is a cause of
        self.index = SessionIndex()
        self.kinds = AlertClusters(self.settings.similarity)
        self.learned = LearnedInhibition(
            InhibitionSettings(window_s=self.settings.inhibition_window_s)
        )

    def on_spans(self, spans: list[SpanEvent]) -> None:
        """Learn the domain's call graph from spans."""
        self.graph.observe(spans)

    def on_alert(self, event: AlertEvent, wall_ns: int) -> list[Decision]:
        """Close what the watermark allows, fold one alert event in, then close again."""
        self.clock.observe(event.event_ns, wall_ns)
        # What closed before this event's time is gone first: a re-fire then opens anew.
        due = self.on_tick(wall_ns)
        return due + self._on_alert(event, wall_ns)

    def _on_alert(self, event: AlertEvent, wall_ns: int) -> list[Decision]:
        if event.labels.get("alertname") in self.settings.helper_alerts:
            # A heartbeat fires always, an inhibition helper by design: neither is a fault.
            return self.on_tick(wall_ns)
        incident, member = self._member_of(event.fingerprint)
        if incident is not None and event.fingerprint in incident.omitted_alerts:
            return self.on_tick(wall_ns)  # counted once, past max_members
        closed = self.closed.get((event.fingerprint, event.starts_ns)) if member is None else None
        stale_copy = (
            member is not None
            and member.status == "resolved"
            and not member.expired
            and event.status == "firing"
            and event.starts_ns <= member.starts_ns
        )  # a re-fire carries a new startsAt; an older one is a copy from before the resolve
        if stale_copy or (closed is not None and (closed[1] or event.status == "resolved")):
            # A late copy of an episode whose incident is closed: nothing new.
            return self.on_tick(wall_ns)
        member, change = apply_event(member, event)
        if change is Change.NEW and member is not None and self.settings.similar_window_s > 0:
            member.kind_id = self.kinds.assign(event.labels, event.annotations)
        if (
            change in (Change.REPEAT, Change.NEW, Change.REFIRED)
            and member is not None
            and member.status == "firing"
        ):
            # A firing alert carries its startsAt, not when it was sent: it says "firing as of
            # now", or one that started weeks ago would expire the moment it arrives.
            member.last_ns = max(member.last_ns, self.clock.max_event_ns or 0)
        if change in (Change.NEW, Change.REFIRED) and member is not None:
            self._episode(member, event.starts_ns)
        out = self._fold(
            incident, member, change, event.event_ns, event.ref, event.read_ns, wall_ns
        )
        if self.settings.learned_inhibition and change in (Change.NEW, Change.REFIRED):
            # Learned after it was placed: an episode never counts for its own rule.
            assert member is not None
            self.learned.observe(alert_kind(member.labels), event.starts_ns)
        return out

    def _episode(self, member: AlertMember, starts_ns: int) -> None:
        """Record an episode start of an alert; a flapping one holds its incident open longer."""
        starts = self.starts.pop(member.fingerprint, [])
        if starts_ns not in starts:
            starts.append(starts_ns)
            starts.sort()
            del starts[: -self.settings.max_starts]
        self.starts[member.fingerprint] = starts
        while len(self.starts) > self.settings.max_closed:
            self.starts.popitem(last=False)
        window = [s for s in starts if starts_ns - self.flap_window_ns <= s <= starts_ns]
        member.episodes = len(window)
        if len(window) < 2:
            member.hold_ns = 0
            return
        gap = max(b - a for a, b in pairwise(window))
        hold = max(int(self.settings.quiet_period_s * NS_PER_S), gap * 3 // 2)
        member.hold_ns = min(hold, int(self.settings.flap_hold_max_s * NS_PER_S))

    @property
    def flap_window_ns(self) -> int:
        """Episodes of one alert that start within this span of each other are flapping."""
        return int(self.settings.flap_window_s * NS_PER_S)

    def on_anomaly(self, signal: AnomalySignal, wall_ns: int) -> list[Decision]:
        """Fold one anomaly record in (its series is the member), then close what is due.

        An anomaly related to no incident waits as evidence (bounded, for
        ``anomaly_hold_s`` after its last sample) for an alert to open one; with
        ``anomaly_incidents`` a non-``info`` one opens an incident of its own instead.
        """
        self.clock.observe(signal.ts_ns, wall_ns)
        due = self.on_tick(wall_ns)
        return due + self._on_evidence(signal, apply_anomaly, signal.ts_ns, wall_ns)

    def on_log(self, signal: LogSignal, wall_ns: int) -> list[Decision]:
        """Fold one log template's burst in (the template is the member), like an anomaly.

        A burst is evidence only: it joins a related incident with alerts, or waits for
        one, and never opens an incident of its own.
        """
        self.clock.observe(signal.last_ns, wall_ns)
        due = self.on_tick(wall_ns)
        if not signal.burst and self._member_of(signal.fingerprint)[0] is None:
            return due  # a burst's tail counts only into an open incident its template is in
        return due + self._on_evidence(signal, apply_log, signal.last_ns, wall_ns)

    def on_span_fault(self, signal: SpanSignal, wall_ns: int) -> list[Decision]:
        """Fold a service's deepest failing spans in (``operators.span_faults``), like a burst.

        Trace faults are evidence only: they join a related incident, or wait for one.
        """
        self.clock.observe(signal.last_ns, wall_ns)
        due = self.on_tick(wall_ns)
        return due + self._on_evidence(signal, apply_span, signal.last_ns, wall_ns)

    def _on_evidence(
        self,
        signal: AnomalySignal | LogSignal | SpanSignal,
        apply: Callable[..., tuple[AlertMember, Change]],  # apply_anomaly, _log or _span
        ts_ns: int,
        wall_ns: int,
    ) -> list[Decision]:
        """Fold an anomaly or log burst into its member: in its incident, or as evidence."""
        fingerprint = signal.fingerprint
        incident, member = self._member_of(fingerprint)
        member, change = apply(member if incident else self.evidence.get(fingerprint), signal)
        if incident is not None:
            return self._fold(incident, member, change, ts_ns, signal.ref, signal.read_ns, wall_ns)
        self.evidence.pop(fingerprint, None)
        opens = (
            self.settings.anomaly_incidents
            and member.kind == "anomaly"
            and member.severity != "info"
        )
        session = self._session_for(member)
        if opens or session is not None:
            return self._fold(
                session, member, Change.NEW, ts_ns, signal.ref, signal.read_ns, wall_ns
            )
        self.evidence[fingerprint] = member
        self._evidence_due_ns = min(
            self._evidence_due_ns, member.last_ns + self._horizon_ns(member)
        )
        while len(self.evidence) > self.settings.max_evidence:
            self.evidence.popitem(last=False)
        return self.on_tick(wall_ns)

    def _member_of(self, fingerprint: str) -> tuple[IncidentState | None, AlertMember | None]:
        incident_id = self.by_fingerprint.get(fingerprint)
        incident = self.incidents.get(incident_id) if incident_id else None
        return incident, incident.members.get(fingerprint) if incident else None

    def _fold(
        self,
        incident: IncidentState | None,
        member: AlertMember | None,
        change: Change,
        event_ns: int,
        ref: str,
        read_ns: int,
        wall_ns: int,
    ) -> list[Decision]:
        out: list[Decision] = []
        if change is Change.NEW and member is not None:
            # A new member joins the session its caller found (evidence), or the one found here.
            incident = incident if incident is not None else self._session_for(member)
            if len(self.connects) >= 2 and member.kind == "alert":
                incident, merged = self._merge(self.connects, event_ns, read_ns)
                out.extend(merged)
            self.connects = []
            if incident is None:
                incident = self._open(member)
            self._attach(incident, member)
            if member.kind == "alert":
                self._gather(incident)
        if incident is not None and change not in (Change.STALE_RESOLVE, Change.REPEAT):
            if member is None or member.kind == "alert" or not incident.alerts:
                # Evidence does not extend an alert incident's life (see quiet_deadline).
                incident.last_activity_ns = max(incident.last_activity_ns, event_ns)
            incident.updated_ns = max(incident.updated_ns, event_ns)
            # Around alerts, anomalies are evidence: they never change the incident's severity.
            evidence = member is not None and member.kind != "alert" and bool(incident.alerts)
            if evidence and incident.version and event_ns < self._next_evidence_ns(incident):
                # More evidence for a recorded incident: folded into a version at most every
                # evidence_interval_s, so a busy incident does not re-render per series.
                incident.pending_evidence = True
            else:
                out.extend(self._emit(incident, (ref,), read_ns, wall_ns))
        if incident is not None:
            # A new member may have gathered evidence: only a known one takes the short path.
            self._touched(incident, member if change is not Change.NEW else None)
        out.extend(self.on_tick(wall_ns))
        return out

    def _merge(
        self, incidents: list[IncidentState], at_ns: int, read_ns: int
    ) -> tuple[IncidentState, list[Decision]]:
        """Merge incidents one alert connects into the earliest opened; their last versions."""
        survivor, *absorbed = survivor_first(incidents)
        out: list[Decision] = []
        for other in absorbed:
            absorb(survivor, other, at_ns)
            for fingerprint in (*other.members, *other.omitted_alerts):
                self.by_fingerprint[fingerprint] = survivor.incident_id
            del self.incidents[other.incident_id]
            self.index.add(survivor.incident_id, self.index.drop(other.incident_id), self.graph)
            if other.version:
                other.version += 1
                record = render_merged(other)
                out.append(Decision("incidents", other.incident_id, record, (), read_ns))
                if other.notified:
                    note = render_notification("incident_merged", record)
                    out.append(Decision("notifications", other.incident_id, note, (), read_ns))
        while len(survivor.members) > self.settings.max_members:
            weakest = min(survivor.members.values(), key=strength)
            del survivor.members[weakest.fingerprint]
            survivor.omitted += 1
            if weakest.kind == "alert":
                survivor.omitted_alerts.add(weakest.fingerprint)
            else:
                self.by_fingerprint.pop(weakest.fingerprint, None)
        return survivor, out

    def _next_evidence_ns(self, incident: IncidentState) -> int:
        return incident.versioned_ns + int(self.settings.evidence_interval_s * NS_PER_S)

    def _attach(self, incident: IncidentState, member: AlertMember) -> None:
        members = incident.members
        if member.fingerprint not in members and len(members) >= self.settings.max_members:
            evicted = to_evict(members.values(), member)
            incident.omitted += 1
            if evicted is None:
                if member.kind == "alert":
                    # Remembered, so its re-sends are known and not counted again.
                    incident.omitted_alerts.add(member.fingerprint)
                    self.by_fingerprint[member.fingerprint] = incident.incident_id
                return
            del members[evicted.fingerprint]
            self.by_fingerprint.pop(evicted.fingerprint, None)
            incident.ranked = None
        incident.members[member.fingerprint] = member
        self.index.add(incident.incident_id, keys_of(member, self.settings.join_labels), self.graph)
        self.nodes.observe(member)
        if (member.kind == "alert" and member.own_fault) or not incident.alerts:
            # Anomalies extend only sessions of anomalies: around an alert they are evidence;
            # an alert only that of its own fault, or noise would keep any session open.
            incident.last_onset_ns = max(incident.last_onset_ns, member.first_ns)
        self.by_fingerprint[member.fingerprint] = incident.incident_id

    def _gather(self, incident: IncidentState) -> None:
        """Attach waiting anomalies related to the incident, and those related to them."""
        gap_ns = int(self.settings.session_gap_s * NS_PER_S)
        found = True
        while found and self.evidence:
            found = False
            for fingerprint, member in list(self.evidence.items()):
                early = member.last_ns < incident.opened_ns - gap_ns
                late = member.first_ns > incident.last_onset_ns + gap_ns
                if early or late or self._placement(member, incident) is None:
                    continue
                del self.evidence[fingerprint]
                self._attach(incident, member)
                found = True

    def on_tick(self, wall_ns: int) -> list[Decision]:
        """Resolve stale members and incidents whose quiet period has passed."""
        watermark = self.clock.watermark(wall_ns)
        if watermark is None:
            return []
        if self.evidence and self._evidence_due_ns <= watermark:
            ends = {f: m.last_ns + self._horizon_ns(m) for f, m in self.evidence.items()}
            for fingerprint in [f for f, end in ends.items() if end <= watermark]:
                del self.evidence[fingerprint]
            self._evidence_due_ns = min(
                (end for end in ends.values() if end > watermark), default=_NEVER
            )
        out: list[Decision] = []
        if watermark < self._due_ns:
            # Nothing can expire, resolve or be announced before then: skip the scan.
            return out
        for incident in list(self.incidents.values()):
            expired = self._expire_stale(incident, watermark)
            deadline = self._quiet_deadline(incident)
            if deadline is not None and deadline <= watermark:
                out.extend(self._resolve(incident, deadline))
            elif expired is not None and incident.version:
                # A member resolved by silence is a change like any other: a new version.
                incident.updated_ns = max(incident.updated_ns, expired)
                out.extend(self._emit(incident, (), 0, wall_ns))
            elif incident.pending_evidence and self._next_evidence_ns(incident) <= watermark:
                out.extend(self._emit(incident, (), 0, wall_ns))
            elif (
                incident.version
                and not incident.notified
                and self._worth_notifying(incident, watermark)
            ):
                # Kept firing long enough: announce the current version.
                record = render_incident(incident, self.graph, self.settings.catalogue)
                out.append(self._notification("incident_opened", incident, record, (), 0))
        self._due_ns = min((self._due(i) for i in self.incidents.values()), default=_NEVER)
        return out

    def _quiet_deadline(self, incident: IncidentState) -> int | None:
        settings = self.settings
        return incident.quiet_deadline(
            int(settings.quiet_period_s * NS_PER_S), int(settings.session_gap_s * NS_PER_S)
        )

    def _due(self, incident: IncidentState, timer: bool = False) -> int:
        """Event time of the incident's next expiry, close, evidence version or announcement."""
        due = self._quiet_deadline(incident)
        if due is None:
            due = min(
                (
                    m.last_ns + self._horizon_ns(m)
                    for m in incident.members.values()
                    if m.status == "firing"
                ),
                default=_NEVER,
            )
            after = self._notify_after_ns
            if incident.version and not incident.notified and after is not None:
                notify_at = incident.opened_ns + after
                if not timer or notify_at > (self.clock.max_event_ns or 0):
                    # For the engine's timer only while ahead: a passed one keeps it due forever.
                    due = min(due, notify_at)
        if incident.pending_evidence:
            due = min(due, self._next_evidence_ns(incident))
        return due

    def _touched(self, incident: IncidentState, member: AlertMember | None = None) -> None:
        """An incident changed: its next due time may now come before the others'.

        ``_due_ns`` is a lower bound, so a member still firing only adds its own expiry;
        anything else (a resolve, pending evidence, an announcement timer) rescans the incident.
        """
        if incident.incident_id not in self.incidents:
            return
        if (
            member is not None
            and member.status == "firing"
            and not incident.pending_evidence
            and (incident.notified or self._notify_after_ns is None)
        ):
            self._due_ns = min(self._due_ns, member.last_ns + self._horizon_ns(member))
        else:
            self._due_ns = min(self._due_ns, self._due(incident))

    def flush(self) -> list[Decision]:
        """End of a bounded input: resolve every incident whose members have all resolved.

        The others get a last version if evidence joined since their previous one.
        """
        out: list[Decision] = []
        for incident in list(self.incidents.values()):
            deadline = self._quiet_deadline(incident)
            if deadline is not None:
                out.extend(self._resolve(incident, deadline))
            elif incident.pending_evidence:
                out.extend(self._emit(incident, (), 0, None))
        return out

    def next_deadline_wall(self) -> int | None:
        """Wall time of the next possible close, for the engine's timer."""
        due = min((self._due(i, timer=True) for i in self.incidents.values()), default=_NEVER)
        return None if due == _NEVER else self.clock.wall_when(due)

    def _session_for(self, member: AlertMember) -> IncidentState | None:
        gap_ns = int(self.settings.session_gap_s * NS_PER_S)
        self.nodes.observe(member)
        best: tuple[bool, int, int, str] | None = None
        chosen, chosen_learned, chosen_own = None, "", True
        self._waiting = None  # the waiting evidence's first anomalies, read once if needed
        self.connects = []
        for inc in self._candidates(member):
            # The session gap counts from the alert itself: dating it by its metrics' first
            # anomaly here merged more faults than it reunited late roots (bench, seed 0).
            if (
                inc.last_onset_ns < member.first_ns - gap_ns
                or member.first_ns < inc.opened_ns - gap_ns
            ):
                continue
            if member.kind != "alert" and not inc.alerts and not self.settings.anomaly_incidents:
                continue
            # An alert joins while an alert is firing; evidence alone does not keep it open.
            if not any(m.status == "firing" for m in _keeping_open(inc, member.kind)):
                continue
            relation = self._placement(member, inc)
            learned, own = "", relation is not None and not member.infra
            if relation is None:
                if member.kind != "alert":
                    continue
                learned = self._learned_symptom(member, inc)
                if not learned and not self._alike(member, inc):
                    continue
                hops = self.settings.max_hops + 1  # beyond the graph's reach: ranks after it
            else:
                hops = relation.hops
                if relation.cause and member.kind == "alert" and self.settings.merge:
                    self.connects.append(inc)
            # With split on, an alert of a kind the incident's fault already shows goes there
            # first: of two overlapping faults, the wave it resembles.
            rank = (self._new_kind(member, inc), hops, -inc.last_onset_ns, inc.incident_id)
            if best is None or rank < best:
                best, chosen, chosen_learned, chosen_own = rank, inc, learned, own
        if chosen is not None and member.kind == "alert":
            member.learned = chosen_learned  # the rule, only where it is what relates them
            member.own_fault = chosen_own
        self._waiting = None
        return chosen

    def _candidates(self, member: AlertMember) -> Iterable[IncidentState]:
        """The open incidents ``member`` could relate to: indexed, or all of them."""
        settings = self.settings
        if not settings.session_index:
            return list(self.incidents.values())
        symptom = alert_kind(member.labels) if member.kind == "alert" else ""
        learned = self.learned if settings.learned_inhibition else None
        ids = self.index.candidates(
            member,
            self.graph,
            2 * max(settings.effect_hops, settings.max_hops),
            settings.join_labels,
            None if learned is None else lambda k: learned.explains(k, symptom) is not None,
            self.nodes.on(member.node),
        )
        if ids is None:
            return list(self.incidents.values())
        return [self.incidents[i] for i in sorted(ids) if i in self.incidents]

    def _new_kind(self, member: AlertMember, incident: IncidentState) -> bool:
        """Whether an alert's name is new to the incident's own alerts (False with split off)."""
        if not self.settings.split or member.kind != "alert":
            return False
        name = member.labels.get("alertname")
        return all(m.labels.get("alertname") != name for m in incident.alerts if m.own_fault)

    def _alike(self, member: AlertMember, incident: IncidentState) -> bool:
        """An alert shares a join label's value, or its kind at about its start, with one there."""
        window = int(self.settings.similar_window_s * NS_PER_S)
        shared = [(k, v) for k in self.settings.join_labels if (v := member.labels.get(k))]
        for other in incident.alerts:
            if any(other.labels.get(k) == v for k, v in shared):
                return True
            if (
                member.kind_id
                and other.kind_id == member.kind_id
                and abs(other.first_ns - member.first_ns) <= window
            ):
                return True
        return False

    def _learned_symptom(self, member: AlertMember, incident: IncidentState) -> str:
        """The learned rule that makes an alert a symptom of one firing there, or ""."""
        if not self.settings.learned_inhibition:
            return ""
        window = int(self.settings.inhibition_window_s * NS_PER_S)
        symptom = alert_kind(member.labels)
        for other in incident.alerts:
            started = other.starts_ns or other.first_ns
            if other.status != "firing" or not 0 < member.first_ns - started <= window:
                continue
            evidence = self.learned.evidence(alert_kind(other.labels), symptom)
            if evidence is not None:
                return evidence
        return ""

    def _placement(self, member: AlertMember, incident: IncidentState) -> Relation | None:
        """How a newcomer relates to an incident, or None where nothing relates them."""
        if member.infra:
            # Not 0 hops from everything: related through its node, or not at all.
            return relate_infrastructure(member, incident.members.values(), self.nodes)
        return self._hops(member, incident)

    def _hops(self, member: AlertMember, incident: IncidentState) -> Relation | None:
        """Call-graph distance to the incident's nearest related service (see ``_relating``).

        0 when topology can't tell; None for an incident of infrastructure alone.
        """
        service, kind = member.service, member.kind
        services = {m.service for m in _relating(incident, kind) if m.service and not m.infra}
        if not services:
            return None
        # With split on, a new kind of alert on a service already alerting may be a new wave.
        checked = kind == "alert" and self.settings.split and self.graph.known(service or "")
        if service is None or (service in services and not checked):
            return Relation(0, True)
        if not self.graph.known(service) or not any(self.graph.known(s) for s in services):
            return Relation(0, True)
        if kind == "alert":
            # To the fault's likely causes, in the direction faults travel; not to any member.
            settings = self.settings
            own = [m for m in incident.alerts if m.own_fault]
            started = onsets(m for m in own if self.graph.known(m.service or ""))
            signs = self._first_signs(incident, member.first_ns)
            lag_ns = int(settings.cause_lag_s * NS_PER_S)
            tol_ns = int(settings.sign_tolerance_s * NS_PER_S) if settings.split else None
            relation = relate_to_causes(
                member,
                started,
                self.graph,
                max_hops=settings.max_hops,
                effect_hops=settings.effect_hops,
                cause_lag_ns=lag_ns,
                signs=signs,
                sign_tol_ns=tol_ns,
            )
            if relation is None and service in services:
                relation = Relation(0, True)  # alerting there, for a fault the graph misses
            if relation is None or relation.cause or tol_ns is None:
                return relation
            # A symptom of this fault, unless a second root shows below it (see second_root).
            second = second_root(
                member, own, started, self.graph, signs, hops=settings.max_hops,
                effect_hops=settings.effect_hops, cause_lag_ns=lag_ns, sign_tol_ns=tol_ns,
                wave_ns=None if settings.wave_s is None else int(settings.wave_s * NS_PER_S),
            )  # fmt: skip
            return relation if second is None else None
        hops = [self.graph.distance(service, s, self.settings.max_hops) for s in services]
        reachable = [h for h in hops if h is not None]
        return Relation(min(reachable), True) if reachable else None

    def _first_signs(self, incident: IncidentState, at_ns: int) -> dict[str, int]:
        """When services' metrics first turned anomalous shortly before ``at_ns``.

        In the incident, or waiting as evidence (read once per newcomer: O(evidence)).
        """
        settings = self.settings
        since = at_ns - int((settings.session_gap_s + settings.cause_lag_s) * NS_PER_S)
        if self._waiting is None:
            self._waiting = {}
            for m in self.evidence.values():
                if m.kind == "anomaly" and m.service and m.first_ns >= since:
                    first = self._waiting.get(m.service, m.first_ns)
                    self._waiting[m.service] = min(first, m.first_ns)
        firsts = dict(self._waiting)
        for m in incident.members.values():
            if m.kind == "anomaly" and m.service and m.first_ns >= since:
                firsts[m.service] = min(firsts.get(m.service, m.first_ns), m.first_ns)
        return firsts

    def _open(self, member: AlertMember) -> IncidentState:
        incident_id = stable_id(self.domain, member.fingerprint, member.first_ns)
        closed = self.closed.get((member.fingerprint, member.first_ns))
        if closed is not None:
            # The same episode revived after it expired: a new lifecycle needs new ids.
            incident_id = stable_id(self.domain, member.fingerprint, member.first_ns, closed[0] + 1)
        incident = IncidentState(
            incident_id=incident_id,
            domain=self.domain,
            opened_ns=member.first_ns,
            updated_ns=member.first_ns,
            last_activity_ns=member.first_ns,
            last_onset_ns=member.first_ns,
        )
        self.incidents[incident_id] = incident
        return incident

    def _expire_stale(self, incident: IncidentState, watermark: int) -> int | None:
        """Resolve members silent past their horizon; the latest end of an alert among them."""
        latest = None
        for member in incident.members.values():
            horizon = self._horizon_ns(member)
            if member.status == "firing" and member.last_ns + horizon <= watermark:
                # Alertmanager re-sends firing alerts; silence this long means the source is
                # gone. An anomalous series that stopped being anomalous is back to normal.
                member.status = "resolved"
                member.resolved_ns = member.last_ns + horizon
                member.expired = True
                if member.kind == "alert":
                    # Evidence comes and goes; the next version shows it, without one of its own.
                    latest = max(latest or 0, member.resolved_ns)
        return latest

    def _horizon_ns(self, member: AlertMember) -> int:
        settings = self.settings
        return int(
            (settings.stale_after_s if member.kind == "alert" else settings.anomaly_hold_s)
            * NS_PER_S
        )

    def _resolve(self, incident: IncidentState, at_ns: int) -> list[Decision]:
        for member in incident.members.values():
            if member.status == "firing":  # evidence still firing: it ends with the incident
                member.status, member.resolved_ns, member.expired = "resolved", at_ns, True
        incident.resolved_ns = at_ns
        incident.updated_ns = max(incident.updated_ns, at_ns)
        # An incident never worth a record ends as quietly as it lived.
        out = self._emit(incident, (), 0, None) if incident.version else []
        del self.incidents[incident.incident_id]
        self.index.drop(incident.incident_id)
        for fingerprint in incident.omitted_alerts:
            if self.by_fingerprint.get(fingerprint) == incident.incident_id:
                del self.by_fingerprint[fingerprint]
        for fingerprint, member in incident.members.items():
            if self.by_fingerprint.get(fingerprint) == incident.incident_id:
                del self.by_fingerprint[fingerprint]
            if member.kind == "alert":
                # Remembered (bounded) so stragglers and revivals of its episodes are recognised.
                starts = self.starts.get(fingerprint, ())
                for start in sorted({member.first_ns, *(s for s in starts if s > member.first_ns)}):
                    episode = (fingerprint, start)
                    lifecycle = self.closed.get(episode, (-1, False, 0))[0] + 1
                    self.closed[episode] = (lifecycle, not member.expired, at_ns)
                    self.closed.move_to_end(episode)
        # Late copies and revivals come within hours; a day of closes is remembered (bounded).
        horizon = at_ns - int(self.settings.closed_memory_s * NS_PER_S)
        while self.closed and (
            len(self.closed) > self.settings.max_closed
            or next(iter(self.closed.values()))[2] < horizon
        ):
            self.closed.popitem(last=False)
        return out

    @property
    def _notify_after_ns(self) -> int | None:
        after = self.settings.notify_after_s
        return None if after is None else int(after * NS_PER_S)

    def _worth_notifying(self, incident: IncidentState, watermark: int | None) -> bool:
        if not incident.alerts:
            return incident.worth_a_record and incident.severity == "critical"
        if len(incident.alerts) >= 2 or incident.severity == "critical":
            return True
        after = self._notify_after_ns
        if after is None or watermark is None:
            return False
        firing = any(m.status == "firing" for m in incident.alerts)
        return firing and watermark - incident.opened_ns >= after

    def _emit(
        self, incident: IncidentState, inputs: tuple[str, ...], read_ns: int, wall_ns: int | None
    ) -> list[Decision]:
        if not incident.worth_a_record and not incident.version:
            return []
        incident.version += 1
        incident.versioned_ns = max(incident.versioned_ns, incident.updated_ns)
        incident.pending_evidence = False
        record = render_incident(incident, self.graph, self.settings.catalogue)
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
        record: Record,
        inputs: tuple[str, ...],
        read_ns: int,
    ) -> Decision:
        incident.notified = True
        incident.notified_severity = max(
            incident.severity, incident.notified_severity, key=SEVERITY_RANK.__getitem__
        )
        note = render_notification(kind, record)
        return Decision("notifications", incident.incident_id, note, inputs, read_ns)
