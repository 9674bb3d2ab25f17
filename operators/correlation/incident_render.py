"""Turns incident state into output records: the incident version and its notification."""


from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.rank_moves import WITHOUT_MOVES
from alertflow.operators.correlation.rootcause import Candidate, rank_by_onset
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.decisions import Record
from alertflow.operators.ids import stable_id
from alertflow.operators.prediction.recommendations import Catalogue, as_text
from alertflow.schemas.outputs import Incident, Notification
from alertflow.schemas.timefmt import NS_PER_S, format_ns

# Candidates per version: every service of the incident (members are bounded), the first
# few with their evidence (rootcause.EVIDENCE_FOR): the true root of a 46-service system was
# often unranked when the list stopped at 10 (issue 10, mode 7).
MAX_CAUSES = None
# A new first cause is shown once it has led this long (event time): a leader flipping back
# and forth within minutes reads as indecision. Released when the incident resolves.
CAUSE_HOLD_S = 300.0
CAUSE_MARGIN = 2.0  # ...or outscores the one shown by this factor


def render_incident(
    state: IncidentState,
    graph: ServiceGraph | None = None,
    catalogue: Catalogue | None = None,
    levels: LevelBook | None = None,
) -> Record:
    """The current version of ``state`` as an ``incidents`` record (``Incident``'s fields)."""
    members = sorted(state.members.values(), key=lambda m: (m.first_ns, m.fingerprint))
    causes = _causes(state, members, graph, levels)
    services = sorted({m.service for m in members if m.service})
    status = (
        "resolved"
        if state.resolved_ns is not None
        else ("open" if state.version == 1 else "updated")
    )
    summary = _summary(members, services)
    return Record(
        {
            "id": stable_id(state.incident_id, state.version),
            "incident_id": state.incident_id,
            "version": state.version,
            "status": status,
            "kind": "incident",
            "taken_by": {},
            "merged_into": None,
            "domain": state.domain,
            "opened_at": format_ns(state.opened_ns),
            "updated_at": format_ns(state.updated_ns),
            "resolved_at": (
                format_ns(state.resolved_ns) if state.resolved_ns is not None else None
            ),
            "services": services,
            "members": [
                Record(
                    {
                        "kind": m.kind,
                        "id": m.fingerprint,
                        "ts": format_ns(m.first_ns),
                        "last_seen": format_ns(m.last_ns),
                        "count": m.count,
                        "episodes": m.episodes if m.kind == "alert" else 1,
                        "status": "firing" if m.status == "firing" else "resolved",
                        "service": m.service,
                        "labels": m.labels,
                    }
                )
                for m in members
            ],
            "members_omitted": state.omitted,
            "root_causes": [
                Record(service=c.service, score=c.score, evidence=list(c.evidence)) for c in causes
            ],
            "severity": state.severity,
            "summary": summary,
            "recommendations": _recommendations(members, causes[0].service if causes else None)
            + _catalogue_lines(state, members, catalogue),
            "outcome": None,  # only predicted incidents end averted or happened (issue 14)
        }
    )


def headline(
    state: IncidentState, graph: ServiceGraph | None = None, levels: LevelBook | None = None
) -> tuple:
    """What a reader acts on: severity, the first root cause (cached), how many alerts."""
    members = sorted(state.members.values(), key=lambda m: (m.first_ns, m.fingerprint))
    causes = _causes(state, members, graph, levels)
    alerts = sum(1 for m in members if m.kind == "alert")
    return state.severity, causes[0].service if causes else None, alerts


def _causes(
    state: IncidentState, members: list, graph: ServiceGraph | None, levels: LevelBook | None
) -> list[Candidate]:
    """The ranking, again only when what it reads changed: most versions are status flips.

    What it reads: the members, the graph and the level book's newest bucket up to the
    end of the incident's start window (after it, the book's changes there are settled).
    """
    # Kept as a hash (64 bits; the process's own, so a restored state just ranks again).
    read = hash((
        graph.revision if graph is not None else -1,
        _level_horizon(members, levels),
        *((m.fingerprint, m.kind, m.first_ns, m.title, m.severity, m.score, m.delta, m.change,
           m.interval_ns, m.annotations.get("description"), m.learned, m.shift, m.onset_ns)
          for m in members),
    ))  # fmt: skip
    if state.ranked is not None and state.ranked[0] == read:
        return held(state, state.ranked[1])
    causes = rank_by_onset(members, graph, limit=MAX_CAUSES, levels=levels)
    state.ranked = (read, causes)
    return held(state, causes)


def held(state: IncidentState, causes: list[Candidate], hold_s: float | None = None) -> list:
    """``causes`` with an established first cause kept first until a new one led ``hold_s``.

    Established: paged (the incident was announced) and first for ``hold_s`` or longer. A
    new leader then shows when a ranking at least ``hold_s`` (``CAUSE_HOLD_S``) after it
    first led still puts it first, or at once when it outscores the one shown
    ``CAUSE_MARGIN`` times; one that loses the lead meanwhile is forgotten. Otherwise (a
    first cause read for moments only, before the page, once resolved) the ranking shows as
    is. Idempotent at one event time (the headline and the version read it in turn).
    """
    hold_ns = int((CAUSE_HOLD_S if hold_s is None else hold_s) * NS_PER_S)
    if not causes:
        return causes
    lead, now = causes[0].service, state.updated_ns
    shown, shown_since, waiting, since = state.cause_hold or (lead, now, None, now)
    at = next((i for i, c in enumerate(causes) if c.service == shown), None)
    settled = state.notified and state.resolved_ns is None and now - shown_since >= hold_ns
    if at == 0 or at is None or not settled:
        state.cause_hold = (lead, shown_since if at == 0 else now, None, now)
        return causes
    if waiting != lead:
        waiting, since = lead, now
    # ...or at once when it clearly outscores it (a root whose alert came a `for:` late).
    if now - since >= hold_ns or causes[0].score >= CAUSE_MARGIN * causes[at].score:
        state.cause_hold = (lead, now, None, now)
        return causes
    state.cause_hold = (shown, shown_since, waiting, since)
    return [causes[at], *causes[:at], *causes[at + 1 :]]


def _level_horizon(members: list, levels: LevelBook | None) -> int:
    if levels is None or not members:
        return -1
    alerts = [m.first_ns for m in members if m.kind == "alert"]
    first = min(alerts) if alerts else members[0].first_ns  # rank_by_onset's first alert
    return levels.horizon(first, WITHOUT_MOVES)  # the lead is the same in both


def _summary(members: list, services: list[str]) -> str:
    alerts = [m for m in members if m.kind == "alert"]
    logs = sum(1 for m in members if m.kind == "log")
    anomalies = len(members) - len(alerts) - logs
    firing = sum(1 for m in members if m.status == "firing")
    parts = [f"{len(alerts)} alert(s)"] if alerts else []
    if anomalies:
        parts.append(f"{anomalies} anomalous series")
    if logs:
        parts.append(f"{logs} log pattern(s)")
    titles = sorted({m.title for m in alerts} or {m.title for m in members})
    where = ", ".join(services) or "unknown services"
    text = f"{' and '.join(parts)} ({firing} firing) on {where}: {', '.join(titles[:5])}"
    flapping = sorted({f"{m.title} ({m.episodes}x)" for m in alerts if m.episodes > 1})
    if flapping:
        text += f"; flapping: {', '.join(flapping[:5])}"
    return text


def _recommendations(members: list, top_service: str | None) -> list[str]:
    out = []
    if top_service:
        out.append(f"Start with {top_service}: ranked first by onset, topology and strength.")
    for member in members:
        runbook = member.annotations.get("runbook_url") or member.annotations.get("runbook")
        if runbook and f"Runbook: {runbook}" not in out:
            out.append(f"Runbook: {runbook}")
    return out


def _catalogue_lines(
    state: IncidentState, members: list, catalogue: Catalogue | None
) -> list[str]:
    """The catalogue's actions for these members, again only when the members changed."""
    if catalogue is None:
        return []
    read = hash(tuple(m.fingerprint for m in members))
    if state.recommended is None or state.recommended[0] != read:
        found = catalogue.for_incident([(m.kind, m.title, m.labels) for m in members])
        state.recommended = (read, as_text(found))
    return list(state.recommended[1])


_VERBS = {
    "incident_opened": "Opened",
    "incident_escalated": "Escalated",
    "incident_resolved": "Resolved",
    "incident_merged": "Merged",
}


def render_notification(kind: str, incident: Record | Incident) -> Notification:
    """The notification for an incident version worth a human's attention."""
    if not isinstance(incident, dict):  # a validated Incident (the feedback step's)
        incident = Record(incident.model_dump())
    # Fields by key: a Record's attribute is a Python-level __getattr__ (~17 a notification).
    verb, severity, causes = _VERBS[kind], incident["severity"], incident["root_causes"]
    cause = causes[0]["service"] if causes else None
    named = cause if causes else "unknown"
    return Notification(
        id=stable_id(incident["incident_id"], incident["version"], kind),
        kind=kind,
        incident_id=incident["incident_id"],
        incident_version=incident["version"],
        ts=incident["updated_at"],
        severity=severity,
        title=(
            f"[{severity.upper()}] {verb} into {incident['merged_into']}"
            if kind == "incident_merged"
            else f"[{severity.upper()}] {verb}: likely cause {named}"
        ),
        text=incident["summary"],
        domain=incident["domain"],
        services=list(incident["services"]),
        root_cause=cause,
        labels=_common_labels(incident["members"]),
    )


def _common_labels(members: list) -> dict[str, str]:
    """Labels with one value across every alert member, as Alertmanager's commonLabels."""
    alerts = [m["labels"] for m in members if m["kind"] == "alert"]
    if not alerts:
        return {}
    common = dict(alerts[0])
    for labels in alerts[1:]:
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    return common
