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
from collections.abc import Callable

from alertflow.operators.correlation.alert_clusters import AlertClusters
from alertflow.operators.correlation.alert_dedup import (
    AlertMember,
    Change,
    apply_event,
)
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal, apply_anomaly
from alertflow.operators.correlation.evidence_pool import EvidencePool, gather
from alertflow.operators.correlation.fault_relation import NodeIndex, likely_causes, onsets
from alertflow.operators.correlation.incident_merge import (
    absorb,
    mergeable,
    render_merged,
    survivor_first,
)
from alertflow.operators.correlation.incident_render import render_notification
from alertflow.operators.correlation.incident_settings import IncidentSettings
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.inhibition import (
    InhibitionSettings,
    LearnedInhibition,
    alert_kind,
)
from alertflow.operators.correlation.joining import SessionChoice
from alertflow.operators.correlation.lifecycle import _NEVER, Lifecycle
from alertflow.operators.correlation.member_bound import strength, to_evict
from alertflow.operators.correlation.session_index import SessionIndex, keys_of
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.decisions import Decision
from alertflow.operators.eventclock import EventClock
from alertflow.operators.log_patterns import LogSignal, apply_log
from alertflow.operators.span_faults import SpanSignal, apply_span
from alertflow.schemas.records import AlertEvent, SpanEvent
from alertflow.schemas.timefmt import NS_PER_S

# Change's members read once: on Python 3.11 an Enum member read off its class costs ~0.25 µs
# (its metaclass's lookup), and placing an alert read ~15 of them (issue 10).
_NEW, _REPEAT, _REFIRED = Change.NEW, Change.REPEAT, Change.REFIRED
_EPISODE = (_NEW, _REFIRED)  # a new episode of an alert: placed anew, learned from
_FIRING = (_REPEAT, _NEW, _REFIRED)  # what a firing alert event can be
_NOTHING_NEW = (Change.STALE_RESOLVE, _REPEAT)

# Snapshots pickle these by class path (alertflow.operators[.correlation].incidents.*):
# they were defined here, so they stay importable from here.
__all__ = ["IncidentGrouper", "IncidentSettings", "IncidentState"]


class IncidentGrouper(SessionChoice, Lifecycle):
    """Groups one correlation domain's alerts into incidents."""

    # A restart with a changed configuration applies it (operators.restorable.upgrade).
    configured_attributes = ("settings",)

    def __init__(self, domain: str, settings: IncidentSettings | None = None) -> None:
        self.domain = domain
        self.settings = settings or IncidentSettings()
        self.clock = EventClock(int(self.settings.lateness_s * NS_PER_S))
        self.incidents: dict[str, IncidentState] = {}
        self.by_fingerprint: dict[str, str] = {}
        # Anomalies in no incident, indexed by service for _gather (correlation.evidence_pool).
        self.evidence: OrderedDict[str, AlertMember] = EvidencePool()
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
        if change is _NEW and member is not None and self.settings.similar_window_s > 0:
            member.kind_id = self.kinds.assign(event.labels, event.annotations)
        if change in _FIRING and member is not None and member.status == "firing":
            # A firing alert carries its startsAt, not when it was sent: it says "firing as of
            # now", or one that started weeks ago would expire the moment it arrives.
            member.last_ns = max(member.last_ns, self.clock.max_event_ns or 0)
        if change in _EPISODE and member is not None:
            self._episode(member, event.starts_ns)
        out = self._fold(
            incident, member, change, event.event_ns, event.ref, event.read_ns, wall_ns
        )
        if self.settings.learned_inhibition and change in _EPISODE:
            # Learned after it was placed: an episode never counts for its own rule.
            assert member is not None
            self.learned.observe(alert_kind(member.labels), event.starts_ns)
        return out

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
            return self._fold(session, member, _NEW, ts_ns, signal.ref, signal.read_ns, wall_ns)
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
        refired = change is _REFIRED and incident is not None and member is not None
        if refired and self._second_wave(incident, member):  # type: ignore[arg-type]
            # Its new episode is a second fault's: it leaves, recorded, and is placed anew.
            out.extend(self._detach(incident, member, ref, read_ns, wall_ns))  # type: ignore[arg-type]
            incident, change = None, _NEW
        if change is _NEW and member is not None:
            # A new member joins the session its caller found (evidence), or the one found here.
            incident = incident if incident is not None else self._session_for(member)
            connects = self.connects
            if len(connects) >= 2:
                window = self.settings.merge_window_s
                connects = mergeable(
                    connects,
                    self._likely_causes,
                    self.settings.merge_distinct_causes,
                    None if window is None else int(window * NS_PER_S),
                )
            if len(connects) >= 2 and member.kind == "alert":
                incident, merged = self._merge(connects, event_ns, read_ns)
                out.extend(merged)
            self.connects = []
            if incident is None:
                incident = self._open(member)
            self._attach(incident, member)
            if member.kind == "alert":
                self._gather(incident)
        if incident is not None and change not in _NOTHING_NEW:
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
            # A new member may have gathered evidence, and an alert firing again ends the quiet
            # deadline that hid the other members' expiries: only a known, still firing one
            # takes the short path.
            short = change not in _EPISODE
            self._touched(incident, member if short else None)
        out.extend(self.on_tick(wall_ns))
        return out

    def _likely_causes(self, incident: IncidentState) -> dict[str, int]:
        """An incident's likely causes (of its own fault's alerts), with their starts."""
        graph = self.graph
        own = onsets(m for m in incident.alerts if m.own_fault and graph.known(m.service or ""))
        lag_ns = int(self.settings.cause_lag_s * NS_PER_S)
        return likely_causes(own, graph, lag_ns, max(self.settings.max_hops, 1))

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

    def _detach(
        self, incident: IncidentState, member: AlertMember, ref: str, read_ns: int, wall_ns: int
    ) -> list[Decision]:
        """Take a member out of an incident, which gets a version without it."""
        del incident.members[member.fingerprint]
        self.by_fingerprint.pop(member.fingerprint, None)
        incident.ranked = None
        member.first_ns = member.starts_ns  # it starts anew at the episode that moved it
        return self._emit(incident, (ref,), read_ns, wall_ns)

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

        def fits(member: AlertMember) -> bool:
            early = member.last_ns < incident.opened_ns - gap_ns
            late = member.first_ns > incident.last_onset_ns + gap_ns
            return not (early or late) and self._placement(member, incident) is not None

        def attach(fingerprint: str, member: AlertMember) -> None:
            del self.evidence[fingerprint]
            self._attach(incident, member)

        # In passes over the waiting evidence, visiting only what could relate.
        gather(self.evidence, incident, self.graph, self.settings.max_hops, fits, attach)
