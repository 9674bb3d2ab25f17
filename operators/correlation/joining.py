"""Session choice: which open incident, if any, a newcomer joins (see ``incidents``).

A mixin of :class:`~correlation.incidents.IncidentGrouper`: it reads the grouper's state
(open incidents, call graph, node index, learned inhibition, waiting evidence).
"""

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.evidence_pool import first_signs
from alertflow.operators.correlation.fault_relation import (
    NodeIndex,
    Relation,
    onsets,
    relate_infrastructure,
    relate_to_causes,
    second_root,
)
from alertflow.operators.correlation.incident_settings import IncidentSettings
from alertflow.operators.correlation.incident_split import LevelSplit, level_second_root
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.inhibition import LearnedInhibition, alert_kind
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.session_index import SessionIndex
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.schemas.timefmt import NS_PER_S


def _keeping_open(incident: IncidentState, kind: str) -> Iterable[AlertMember]:
    """The members whose firing keeps an incident joinable: for an alert, its fault's alerts."""
    if kind == "alert" and incident.alerts:
        return [m for m in incident.alerts if m.own_fault]
    return incident.members.values()


def _relating(incident: IncidentState, kind: str) -> Iterable[AlertMember]:
    """The members a newcomer of ``kind`` relates to: an alert only to alerts, if any.

    Anomalies gathered around alerts are evidence, not a bridge to further alerts.
    """
    return incident.alerts if kind == "alert" and incident.alerts else incident.members.values()


class SessionChoice:
    """Finds the incident a new member joins: related by topology, labels, kind or rule."""

    # The grouper's state this reads (set in IncidentGrouper.__init__).
    settings: IncidentSettings
    incidents: dict[str, IncidentState]
    evidence: "OrderedDict[str, AlertMember]"
    graph: ServiceGraph
    nodes: NodeIndex
    index: SessionIndex
    learned: LearnedInhibition
    connects: list[IncidentState]
    levels: LevelBook | None
    _waiting: dict[str, int] | None

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
            None if learned is None else learned.causes_of(symptom),
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
            if relation is None or relation.cause:
                return relation
            if settings.level_split and self._level_root(member, started) is not None:
                return None  # its own metrics moved after this fault began: a second root
            if tol_ns is None:
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

    def _level_root(
        self, member: AlertMember, started: dict[str, int], fired_ns: int | None = None
    ) -> str | None:
        """A second root below a newcomer that the level book dates after the fault (or None)."""
        if self.levels is None:
            return None  # no book, no level to date (level_second_root's own answer), no cost
        settings = self.settings
        split = LevelSplit(
            z=settings.level_split_z,
            lag_s=settings.level_split_lag_s,
            callers=settings.level_split_callers,
        )
        fired = member.first_ns if fired_ns is None else fired_ns
        return level_second_root(
            member.service or "", fired, started, self.graph, self.levels, split,
            hops=settings.max_hops, effect_hops=settings.effect_hops,
            cause_lag_ns=int(settings.cause_lag_s * NS_PER_S),
        )  # fmt: skip

    def _second_wave(self, incident: IncidentState, member: AlertMember) -> bool:
        """A re-fired alert whose new episode a second root explains (``level_split_refires``).

        Its service's other alerts and the incident's fault as it stands without it decide:
        a level move below it that began after the fault did is another fault's.
        """
        settings = self.settings
        if not (settings.level_split and settings.level_split_refires) or self.levels is None:
            return False
        if member.kind != "alert" or not self.graph.known(member.service or ""):
            return False
        others = [m for m in incident.alerts if m.own_fault and m is not member]
        started = onsets(m for m in others if self.graph.known(m.service or ""))
        if not started:
            return False  # alone there: nothing to split from
        return self._level_root(member, started, member.starts_ns) is not None

    def _first_signs(self, incident: IncidentState, at_ns: int) -> Mapping[str, int]:
        """When services' metrics first turned anomalous shortly before ``at_ns``.

        In the incident, or waiting as evidence (looked up per service asked of it).
        """
        settings = self.settings
        since = at_ns - int((settings.session_gap_s + settings.cause_lag_s) * NS_PER_S)
        return first_signs(self.evidence, since, incident.members.values())
