"""Incident lifecycle: flap damping, expiry, resolution, versions and notifications.

A mixin of :class:`~correlation.incidents.IncidentGrouper`: it reads and updates the
grouper's open incidents, closed episodes and timers.
"""

import re
from collections import OrderedDict
from itertools import pairwise

from alertflow.operators.correlation.alert_dedup import (
    SEVERITY_RANK,
    AlertMember,
)
from alertflow.operators.correlation.incident_render import (
    headline,
    render_incident,
    render_notification,
)
from alertflow.operators.correlation.incident_settings import IncidentSettings
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.noise_digest import (
    LoneKinds,
    NoiseDigests,
    alert_rule,
    corroborates,
    flaps_alone,
)
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.session_index import SessionIndex
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.decisions import Decision, Record
from alertflow.operators.eventclock import EventClock
from alertflow.operators.ids import stable_id
from alertflow.schemas.timefmt import NS_PER_S

_NEVER = 2**63 - 1


class Lifecycle:
    """Damps flapping alerts, expires silent members, resolves, versions and announces."""

    # The grouper's state this reads and updates (set in IncidentGrouper.__init__).
    domain: str
    settings: IncidentSettings
    clock: EventClock
    incidents: dict[str, IncidentState]
    by_fingerprint: dict[str, str]
    evidence: "OrderedDict[str, AlertMember]"
    closed: "OrderedDict[tuple[str, int], tuple[int, bool, int]]"
    starts: "OrderedDict[str, list[int]]"
    graph: ServiceGraph
    index: SessionIndex
    _due_ns: int
    _evidence_due_ns: int
    # Fed by DomainCorrelator from scoring's level buckets; ranking reads it (rank_levels).
    levels: LevelBook | None = None

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
        since = starts_ns - self.flap_window_ns  # a property: read once, not per start
        window = [s for s in starts if since <= s <= starts_ns]
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
        noise = getattr(self, "_noise", None)
        if noise is not None and noise.due() <= watermark:
            out.extend(self._digest_versions(noise.ready(watermark)))
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
                out.extend(self._emit(incident, (), 0, wall_ns, due=True))
            elif not incident.version and incident.alerts:
                if not self._lone(incident, watermark):
                    out.extend(self._emit(incident, (), 0, wall_ns))  # announced after a while
                elif self._waits_for_digest(incident) <= watermark:
                    self._list_as_noise(incident)
            elif (
                incident.version
                and not incident.notified
                and self._worth_notifying(incident, watermark)
            ):
                # Kept firing long enough: announce the current version.
                record = render_incident(incident, self.graph, self.settings.catalogue, self.levels)
                out.append(self._notification("incident_opened", incident, record, (), 0))
        self._due_ns = min((self._due(i) for i in self.incidents.values()), default=_NEVER)
        return out

    def _quiet_deadline(self, incident: IncidentState, hold: bool = True) -> int | None:
        settings = self.settings
        deadline = incident.quiet_deadline(
            int(settings.quiet_period_s * NS_PER_S), int(settings.session_gap_s * NS_PER_S)
        )
        if hold and deadline is not None and self._awaits_flaps(incident, None, decided=False):
            # Unrecorded, it stays open (unseen) until its wait ends: a flap re-fires it here.
            deadline = max(deadline, self._flap_decision_ns(incident))
        return deadline

    def _due(self, incident: IncidentState, timer: bool = False) -> int:
        """Event time of the incident's next expiry, close, evidence version or announcement."""
        due = self._quiet_deadline(incident)
        if due is None:
            # The horizons read once, not per member: this runs on every new member (issue 10).
            alert_ns, other_ns = self._horizons_ns()
            due = min(
                (
                    m.last_ns + (alert_ns if m.kind == "alert" else other_ns)
                    for m in incident.members.values()
                    if m.status == "firing"
                ),
                default=_NEVER,
            )
            after = self._notify_after_ns
            if not incident.notified and after is not None and incident.alerts:
                notify_at = incident.opened_ns + after
                if not timer or notify_at > (self.clock.max_event_ns or 0):
                    # For the engine's timer only while ahead: a passed one keeps it due forever.
                    due = min(due, notify_at)
            due = min(due, self._waits_for_digest(incident))
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
                out.extend(self._emit(incident, (), 0, None, due=True))
            elif self._lone(incident, None):
                self._list_as_noise(incident)  # still alone at the end: listed, not lost
            elif not incident.version and incident.alerts:
                # Corroborated since its last change (evidence reached corroborate_min_count).
                out.extend(self._emit(incident, (), 0, None))
        noise = getattr(self, "_noise", None)
        if noise is not None:
            out.extend(self._digest_versions(noise.flush(self.clock.max_event_ns)))
        return out

    def next_deadline_wall(self) -> int | None:
        """Wall time of the next possible close, for the engine's timer."""
        due = min((self._due(i, timer=True) for i in self.incidents.values()), default=_NEVER)
        noise = getattr(self, "_noise", None)
        if noise is not None:
            due = min(due, noise.due())
        return None if due == _NEVER else self.clock.wall_when(due)

    def _next_evidence_ns(self, incident: IncidentState) -> int:
        """When a folded change comes out: joined alerts sooner than evidence."""
        s = self.settings
        interval = s.join_interval_s if incident.pending_joins else s.evidence_interval_s
        return incident.versioned_ns + int(interval * NS_PER_S)

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
        alert_ns, other_ns = self._horizons_ns()
        return alert_ns if member.kind == "alert" else other_ns

    def _horizons_ns(self) -> tuple[int, int]:
        """How long a firing alert, and any other member, counts without news of it."""
        settings = self.settings
        return int(settings.stale_after_s * NS_PER_S), int(settings.anomaly_hold_s * NS_PER_S)

    def _resolve(self, incident: IncidentState, at_ns: int) -> list[Decision]:
        # One held open to see flaps (unseen) ended when it went quiet, not when the wait did.
        at_ns = min(at_ns, self._quiet_deadline(incident, hold=False) or at_ns)
        for member in incident.members.values():
            if member.status == "firing":  # evidence still firing: it ends with the incident
                member.status, member.resolved_ns, member.expired = "resolved", at_ns, True
        incident.resolved_ns = at_ns
        incident.updated_ns = max(incident.updated_ns, at_ns)
        # An incident never worth a record ends as quietly as it lived.
        waited = not incident.version and self._awaits_flaps(incident, None, decided=False)
        out = self._emit(incident, (), 0, None) if incident.version or waited else []
        if self._lone(incident, None) or (not incident.version and incident.alerts):
            # A lone warning that ended alone, or alerts that ended before their incident was
            # worth a record: listed in the digest, never lost from every output.
            self._list_as_noise(incident)
        self._learn_kinds(incident)
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
        self,
        incident: IncidentState,
        inputs: tuple[str, ...],
        read_ns: int,
        wall_ns: int | None,
        due: bool = False,
    ) -> list[Decision]:
        """A new version of ``incident`` (and its notification), unless it waits.

        A lone warning waits for the noise digest; a change nobody acts on waits for the next
        due version (``due``: this is it).
        """
        if not incident.worth_a_record and not incident.version:
            return []
        watermark = self.clock.watermark(wall_ns) if wall_ns is not None else None
        if self._lone(incident, watermark):
            # A lone warning: no record of its own; its digest line follows its changes.
            if self._listed(incident):
                self._list_as_noise(incident)
            return []
        if watermark is not None and self._awaits_flaps(incident, watermark):
            return []  # corroborated, but whether it flaps is known at lone_flap_wait_s
        if (
            incident.version
            and not due
            and self.settings.coalesce_updates
            and self._coalesced(incident)
        ):
            return []
        noise = getattr(self, "_noise", None)
        if noise is not None and noise.where:
            for member in incident.alerts:  # listed as noise before an incident took it
                noise.taken(member.fingerprint, incident.incident_id)
        incident.version += 1
        incident.versioned_ns = max(incident.versioned_ns, incident.updated_ns)
        incident.pending_evidence = incident.pending_joins = False
        record = render_incident(incident, self.graph, self.settings.catalogue, self.levels)
        causes = record["root_causes"]  # the headline as rendered: no second ranking call
        alerts = sum(1 for m in record["members"] if m["kind"] == "alert")
        incident.headline = (record["severity"], causes[0]["service"] if causes else None, alerts)
        out = [Decision("incidents", incident.incident_id, record, inputs, read_ns)]
        kind = None
        if not incident.notified:
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

    def _coalesced(self, incident: IncidentState) -> bool:
        """Whether a change folds into the next version: nothing a reader acts on moved.

        Status, severity, the first root cause and a due announcement come out at once; a new
        alert too, unless the last version is under ``join_interval_s`` old (a storm: its
        alerts come out together at the interval's end). Other changes (a member resolving or
        firing again, evidence coming and going) at most once per ``evidence_interval_s`` of
        event time (issue 10: ~1,600 versions per 12 scenarios).
        """
        if incident.resolved_ns is not None:
            return False
        if not incident.notified and self._worth_notifying(incident, None):
            return False  # its announcement waits for nothing
        now, then = headline(incident, self.graph, self.levels), incident.headline
        joined = then is not None and now[:2] == then[:2] and now != then
        if joined and incident.updated_ns < incident.versioned_ns + int(
            self.settings.join_interval_s * NS_PER_S
        ):
            incident.pending_evidence = incident.pending_joins = True
            return True
        if now != then or incident.updated_ns >= self._next_evidence_ns(incident):
            return False
        incident.pending_evidence = True
        return True

    @property
    def noise(self) -> NoiseDigests:
        """The domain's noise digests (made on first use: older snapshots have none)."""
        noise = getattr(self, "_noise", None)
        if noise is None:
            s = self.settings
            noise = NoiseDigests(self.domain, s.noise_window_s, s.noise_interval_s, s.max_members)
            self._noise = noise
        return noise

    def _lone(self, incident: IncidentState, watermark: int | None) -> bool:
        """A lone warning: one unrecorded alert, not worth a page, that metrics do not explain.

        Evidence near the alert in graph and time (:func:`noise_digest.corroborates`) makes it
        a fault seen by one alert (PetShop's one frontend alert, issue 10 mode 7), not noise.
        """
        if incident.version or not self.settings.noise_digest:
            return False
        alerts = incident.alerts
        if not alerts:
            return False
        if self._worth_notifying(incident, watermark) and not self._pages_for_nothing(
            incident, watermark
        ):
            return False
        if flaps_alone(alerts, self.settings.lone_max_episodes):
            return True  # a rule flapping on its own: noise, whatever the metrics do
        return not self._corroborated(incident)

    def _corroborated(self, incident: IncidentState) -> bool:
        """Whether evidence near its alerts in graph and time explains them (a fault)."""
        s = self.settings
        return corroborates(
            incident.alerts,
            (m for m in incident.members.values() if m.kind != "alert"),
            self.graph,
            s.corroborate_hops,
            None if s.corroborate_before_s is None else int(s.corroborate_before_s * NS_PER_S),
            None if s.corroborate_after_s is None else int(s.corroborate_after_s * NS_PER_S),
            s.corroborate_min_count,
        )

    @property
    def lone_kinds(self) -> LoneKinds:
        """Per alert kind, its episodes that ended alone (made on first use, as ``noise``)."""
        kinds = getattr(self, "_lone_kinds", None)
        if kinds is None:
            kinds = self._lone_kinds = LoneKinds(self.settings.max_closed)
        return kinds

    def _learn_kinds(self, incident: IncidentState) -> None:
        """An incident ended: its alerts' kinds ended alone (one alert, unexplained) or not."""
        alerts = incident.alerts
        if self.settings.lone_critical_streak is None or not alerts or incident.merged_into:
            return
        alone = len(alerts) == 1 and not self._corroborated(incident)
        kinds = {k for k in map(alert_rule, alerts) if k}
        self.lone_kinds.ended(kinds, alone, alerts[0].episodes if alone else 1)

    def _pages_for_nothing(self, incident: IncidentState, watermark: int | None) -> bool:
        """A lone critical alert of a kind that keeps ending alone here: held back, for now.

        Like a lone warning it is a digest line unless metrics corroborate it, or its episode
        is still firing ``record_after_s`` after it began (then it pages).
        """
        alert = self._held_back(incident)
        return alert is not None and self._persists_ns(alert) > (
            (watermark if watermark is not None else self.clock.max_event_ns or 0)
            if alert.status == "firing"
            else (alert.resolved_ns or alert.last_ns)
        )

    def _held_back(self, incident: IncidentState) -> AlertMember | None:
        """Its one alert if critical and held back by its kind's history or by its rule.

        Held back: its kind ended alone ``lone_critical_streak`` times in a row here
        (:class:`noise_digest.LoneKinds` counts the streaks), or ``one_off_alerts`` names its
        rule (a one-off event: no history needed). None otherwise.
        """
        s = self.settings
        streak, one_off = s.lone_critical_streak, s.one_off_alerts
        alerts = incident.alerts
        if (streak is None and one_off is None) or len(alerts) != 1:
            return None
        if incident.severity != "critical":
            return None
        kind = alert_rule(alerts[0])
        if one_off is not None and kind and re.search(one_off, kind):
            return alerts[0]
        if streak is not None and self.lone_kinds.streak(kind) >= streak:
            return alerts[0]
        return None

    def _persists_ns(self, alert: AlertMember) -> int:
        """When a held-back critical alert's episode has fired long enough to page."""
        return alert.starts_ns + int(self.settings.record_after_s * NS_PER_S)

    def _awaits_flaps(
        self, incident: IncidentState, watermark: int | None, decided: bool = True
    ) -> bool:
        """A corroborated lone warning whose record waits to see whether its alert flaps.

        Flapping is seen only once the alert fires again, so with ``lone_max_episodes`` its
        record waits ``lone_flap_wait_s`` (nobody is paged for it), and its incident stays
        open that long. ``decided``: False asks whether it waits at all, whenever.
        """
        s = self.settings
        if incident.version or s.lone_max_episodes is None or not s.noise_digest:
            return False
        alerts = incident.alerts
        if len(alerts) != 1 or self._worth_notifying(incident, watermark):
            return False
        if not decided:
            return not self._lone(incident, None)
        return watermark is not None and watermark < self._flap_decision_ns(incident)

    def _flap_decision_ns(self, incident: IncidentState) -> int:
        return incident.opened_ns + int(self.settings.lone_flap_wait_s * NS_PER_S)

    def _listed(self, incident: IncidentState) -> bool:
        noise = getattr(self, "_noise", None)
        return noise is not None and any(m.fingerprint in noise.where for m in incident.alerts)

    def _waits_for_digest(self, incident: IncidentState) -> int:
        """When a lone warning is listed in the noise digest if nothing takes it first.

        A held-back critical alert (:meth:`_pages_for_nothing`) that fires again after its
        listing is due when its new episode has fired long enough to page.
        """
        if self._listed(incident):
            held = None if incident.version else self._held_back(incident)
            if held is None or held.status != "firing":
                return _NEVER
            return self._persists_ns(held)
        if not self._lone(incident, None):
            if self._awaits_flaps(incident, None, decided=False):
                return self._flap_decision_ns(incident)
            return _NEVER
        return incident.opened_ns + int(self.settings.record_after_s * NS_PER_S)

    def _list_as_noise(self, incident: IncidentState) -> None:
        for member in incident.alerts:
            self.noise.note(member, self.clock.max_event_ns or 0)

    def _digest_versions(self, versions: list[tuple[Record, tuple[str, ...]]]) -> list[Decision]:
        return [Decision("incidents", r["incident_id"], r, inputs, 0) for r, inputs in versions]
