"""An open incident's members and lifecycle: the state the grouper and the renderers share.

Its own module so that ``incident_render`` and ``incident_merge`` can import it at run time
without importing the grouper, which imports them.
"""

from dataclasses import dataclass, field

from alertflow.operators.correlation.alert_dedup import (
    SEVERITY_RANK,
    AlertMember,
)
from alertflow.operators.restorable import Restorable


@dataclass(slots=True)
class IncidentState(Restorable):
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
    # (first cause shown, since when, a new leader waiting to be shown, since when): render
    cause_hold: tuple | None = None
    recommended: tuple | None = None  # (hash of the members, catalogue lines): incident_render
    merged_into: str | None = None  # the incident that absorbed this one (incident_merge)
    omitted: int = 0  # members beyond max_members, counted and dropped
    omitted_alerts: set[str] = field(default_factory=set)  # ...of them, the alerts
    headline: tuple | None = None  # (severity, first cause, alerts) of the last version
    pending_joins: bool = False  # alerts joined since the last version, folded (a storm)

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
        if None in ends:  # (ints never equal None) one still firing; no generator on this path
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
