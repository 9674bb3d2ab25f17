"""Merging incidents that a later-arriving alert shows to be one fault (issue 10, mode 4).

Alertmanager sends alerts in group batches, so a cascade's far callers can open an
incident, and its near callers another, before the alert of their common cause
arrives. An alert that relates to two open incidents as a likely **cause** of each
(a dependency of each one's likely causes that started no later than them: see
``operators.correlation.fault_relation``) connects them. The earliest opened survives and takes
the others' members and lifecycle; each absorbed incident that was recorded gets a
last version, ``status: merged`` with ``merged_into`` naming the survivor and no
members (they are the survivor's now), so a compacted view keys each fault once.
An alert that is merely a symptom of both is not enough: two faults above one
shared caller stay apart. Nor are two incidents whose likely causes share a service
merged (the split kept two faults on that service apart on purpose), nor two whose
likely causes began more than ``merge_window_s`` apart (a cascade's pieces start
together; its root's alert is what comes late): on the simulator's dev seeds, every
merge without these guards joined two different faults (``mergeable``).
"""

from collections.abc import Callable

from alertflow.operators.correlation.alert_dedup import SEVERITY_RANK
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.decisions import Record
from alertflow.operators.ids import stable_id
from alertflow.schemas.timefmt import format_ns


def survivor_first(incidents: list[IncidentState]) -> list[IncidentState]:
    """The incidents, the one that survives a merge first: the earliest opened."""
    return sorted(incidents, key=lambda i: (i.opened_ns, i.incident_id))


def mergeable(
    incidents: list[IncidentState],
    causes_of: Callable[[IncidentState], dict[str, int]],
    distinct: bool,
    window_ns: int | None,
) -> list[IncidentState]:
    """The incidents one alert may merge, survivor first (fewer than two: no merge).

    With ``distinct``, none whose likely causes share a service with an earlier one's: they
    were kept apart on purpose (a second fault's new kind of alert on that service:
    ``fault_relation.second_root``), and an alert below that service is a cause of both
    either way. With ``window_ns``, only those whose causes began within it of the
    survivor's: the pieces of one cascade start together, its root alerting late.
    """
    kept: list[IncidentState] = []
    seen: set[str] = set()
    began: int | None = None
    for incident in survivor_first(incidents):
        causes = causes_of(incident)
        if distinct and seen.intersection(causes):
            continue
        start = min(causes.values(), default=None)
        apart = window_ns is not None and began is not None and start is not None
        if apart and abs(start - began) > window_ns:
            continue
        began = start if began is None else began
        kept.append(incident)
        seen.update(causes)
    return kept


def absorb(survivor: IncidentState, absorbed: IncidentState, at_ns: int) -> None:
    """Move ``absorbed``'s members and lifecycle into ``survivor``; mark ``absorbed`` merged."""
    survivor.members.update(absorbed.members)
    survivor.omitted += absorbed.omitted
    survivor.omitted_alerts |= absorbed.omitted_alerts
    survivor.opened_ns = min(survivor.opened_ns, absorbed.opened_ns)
    survivor.updated_ns = max(survivor.updated_ns, absorbed.updated_ns, at_ns)
    survivor.last_activity_ns = max(survivor.last_activity_ns, absorbed.last_activity_ns)
    survivor.last_onset_ns = max(survivor.last_onset_ns, absorbed.last_onset_ns)
    survivor.pending_evidence = survivor.pending_evidence or absorbed.pending_evidence
    survivor.pending_joins = survivor.pending_joins or absorbed.pending_joins
    if absorbed.notified:
        # A human already knows of the absorbed part: the survivor's escalations count from it.
        survivor.notified_severity = max(
            survivor.notified_severity, absorbed.notified_severity, key=SEVERITY_RANK.__getitem__
        )
    survivor.ranked = None
    absorbed.merged_into = survivor.incident_id
    absorbed.updated_ns = max(absorbed.updated_ns, at_ns)


def render_merged(state: IncidentState) -> Record:
    """The last version of an absorbed incident: where its members went, and nothing else."""
    return Record(
        {
            "id": stable_id(state.incident_id, state.version),
            "incident_id": state.incident_id,
            "version": state.version,
            "status": "merged",
            "kind": "incident",
            "taken_by": {},
            "merged_into": state.merged_into,
            "domain": state.domain,
            "opened_at": format_ns(state.opened_ns),
            "updated_at": format_ns(state.updated_ns),
            "resolved_at": None,
            "services": [],
            "members": [],
            "members_omitted": 0,
            "root_causes": [],
            "severity": state.severity,
            "summary": f"merged into {state.merged_into}: a later alert connects their faults",
            "recommendations": [],
        }
    )
