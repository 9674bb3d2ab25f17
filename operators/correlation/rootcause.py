"""Root-cause ranking: the service whose alerts or metrics moved first, within lag tolerance.

Symptoms trail their cause, so onset order is the strongest signal available
without topology. Services whose onsets fall within ``tolerance_ns`` of each
other are near-ties (monitoring lag blurs their order) and are separated by
strength: an alert's severity, an anomaly's score.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from alertflow.operators.correlation import rootcause_levels
from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.rank_moves import (
    WITHOUT_MOVES,
    RankWeights,
    changes_near_start,
    combine,
    describe_first_move,
    describe_move,
    first_movers,
    move_lag,
    move_onsets,
    promote_movers,
    quantile,
    second_wave,
)
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.span_faults import TraceVerdict, trace_verdicts
from alertflow.schemas.timefmt import NS_PER_S, format_ns

_SEVERITY_WEIGHT = {"critical": 1.0, "warning": 0.7, "info": 0.4}
# Onset order is blurred by monitoring lag; a failing dependency is stronger evidence.
_SYMPTOM_FACTOR = 0.5
# A dependency explains a service's anomaly only if it moved at least this much of it.
_EXPLAIN_RATIO = 0.5
# ...and explains an alert with anomalies alone only if one moved this much (relative).
_MIN_CHANGE = 0.5
# An anchor's anomaly names the symptom only when it is clear, not a borderline score.
_CLEAR_SYMPTOM = 0.6
# Onset tolerance in sampling intervals of the slowest-sampled anomalous series.
_INTERVALS_OF_LAG = 1.5
# Services not on a dependency path from what alerted are rarely the cause.
_OFF_PATH_FACTOR = 0.5
# Nor are services whose anomalies are on other metrics than the alerting services' own.
_UNLIKE_FACTOR = 0.5
# Nor services without alerts while an alerting service is itself a likely cause.
_BYSTANDER_FACTOR = 0.5
# Nodes and the cluster are causes only on more than onset while a service is in play.
_INFRA_FACTOR = 0.5
# Evidence that dates a service only when it has nothing else (see rank_by_onset).
_UNDATED = ("log", "span")
# A trace fault is failure seen on the service itself, like an alert: never off-symptom.
_ALWAYS_RELEVANT = ("alert", "span")
# A weak anomaly's strength (see ``weak``): below an info alert's 0.4 at any score.
_WEAK_FACTOR = 0.35
# An alert starts after its rule's `for:` (commonly 5 to 15 minutes): a dependency dated only
# by its alert may have failed this much before that alert, so it still explains a caller.
_FOR_TOLERANCE_NS = 600 * NS_PER_S
# Candidates whose evidence is rendered: the rest are ranked, scored, and listed bare.
EVIDENCE_FOR = 5


def candidate_of(member: AlertMember) -> str:
    """What a member is evidence about: its service, else its node, else "unknown"."""
    if member.infra:
        return f"node {member.node}" if member.node else (member.service or "unknown")
    return member.service or "unknown"


def weak(member: AlertMember) -> bool:
    """An anomaly against an expected 0: its score says little, however high (issue 10).

    No baseline yet: a cold start, or a burst of sampled traces where there were none.
    """
    return member.kind == "anomaly" and math.isinf(member.change)


def _strength(member: AlertMember) -> float:
    if member.kind != "alert":
        # An anomaly's score, a log burst's (operators.log_patterns); a weak one's counts
        # for less than any alert's severity, so it never outranks what operators watch.
        return member.score * _WEAK_FACTOR if weak(member) else member.score
    return _SEVERITY_WEIGHT.get(member.severity, 0.7)


class _Signals(NamedTuple):
    """What :func:`_explains` compares of a service's members, computed once per ranking.

    A named tuple: one per service per ranking, made in half the time of a frozen dataclass.
    """

    moves: dict[str, float]  # the largest change per anomalous metric
    alerting: bool
    moved: float  # the largest relative change of an anomaly (0 without one)

    @classmethod
    def of(cls, members: list[AlertMember]) -> "_Signals":
        # Weak anomalies still count here: errors where there were none (an error ratio
        # of 1 against 0) were often the only sign of the root (bench, dev seed 0).
        # One pass: the largest change from the expected value per anomalous metric, whether
        # one alerts, and the largest relative change (compared as ``max`` compares them).
        moves: dict[str, float] = {}
        alerting, moved = False, None
        for m in members:
            if m.kind == "anomaly":
                moves[m.title] = max(moves.get(m.title, 0.0), m.delta)
                moved = m.change if moved is None or m.change > moved else moved
            elif m.kind == "alert":
                alerting = True
        return cls(moves, alerting, 0.0 if moved is None else moved)


def _explains(dependency: _Signals, service: _Signals) -> bool:
    """Whether a failing dependency accounts for a service's own failure.

    When both have anomalies on a metric of the same name (latency and latency), the
    dependency explains the service only if its change is comparable: a callee that
    slowed by 2 ms does not explain a caller that slowed by 800 ms; anomalies on unlike
    metrics explain nothing. An alerting service is explained by a dependency that only
    has anomalies if one of them moved by ``_MIN_CHANGE`` of its expected value or more.
    When the dependency alerts, or either side has no anomaly, a dependency failing no
    later than the service explains it.
    """
    mine, theirs = service.moves, dependency.moves
    if dependency.alerting:
        return True
    if dependency.moved < _MIN_CHANGE and service.alerting:
        # Small anomalies on a dependency do not make an alerting service a mere symptom.
        return False
    if not mine or not theirs:
        return True
    # Unlike metrics (latency against request counts) cannot be compared, so explain nothing.
    return any(theirs[name] >= _EXPLAIN_RATIO * mine[name] for name in mine.keys() & theirs.keys())


def _topology_evidence(graph: ServiceGraph, service: str, failing: list[str]) -> tuple[str, ...]:
    if failing:
        return (f"depends on {', '.join(failing[:3])}, also failing: likely a symptom",)
    callees = graph.callees(service)  # asked only here: most candidates have failing ones
    if callees:
        return (f"its dependencies are healthy ({', '.join(callees[:3])})",)
    return ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ranked service with its score and the evidence for it."""

    service: str
    score: float
    evidence: tuple[str, ...]


def rank_by_onset(
    members: Iterable[AlertMember],
    graph: ServiceGraph | None = None,
    tolerance_ns: int = 120 * NS_PER_S,
    decay_s: float = 300.0,
    limit: int | None = None,
    weights: RankWeights | None = None,
    levels: LevelBook | None = None,
) -> list[Candidate]:
    """Rank services by onset, the call graph and strength: likely causes first.

    - **Anchors**: the services the incident's alerts name (what operators chose to
      watch); an incident of anomalies alone anchors on all of its services.
    - **Symptom**: the metrics that moved on the anchors. A cause shows the same kind of
      symptom further down the call graph, so other services are judged on those metrics
      (on everything they have when the anchors show no anomaly); a service with
      anomalies on other metrics only ranks lower (``_UNLIKE_FACTOR``).
    - **Path**: from the anchors along dependencies, through services of the incident.
      Services off that path rank after those on it (``_OFF_PATH_FACTOR``).
    - **Explained**: a service whose dependency (up to three hops) was already failing
      within the lag tolerance, and accounts for its change (:func:`_explains`), is more
      likely a symptom than a cause (``_SYMPTOM_FACTOR``).
    - Within that, earlier onset (beyond the tolerance, decaying over ``decay_s``) and
      strength (an alert's severity, an anomaly's score) rank higher.
    - **Moves** (``correlation.rank_moves``, weighed by ``weights``): the strongest move of a
      service's series from their own last hour near the start; strong moves date services
      (every alert fires about when the first `for:` passes); a later failure that nothing
      below explains is a second fault, named among the first three.
    - **First movers** (``rank_moves.first_movers``): services whose large move nothing below
      them preceded follow the first place, and take it from a service that did not move.
    - **Levels** (``levels``, a ``rank_levels.LevelBook``; none: skipped): the member whose
      series changed far most at the start against their own hour before takes first place;
      dependencies outside the incident that changed strongly follow its members, or lead
      them when one changed ``level_outside`` times more than every member; what moved most
      at a start ``level_early_s`` earlier (a fault still going when this one began) is
      named at ``level_early_place`` at the latest.

    ``limit`` keeps the first candidates only (every service is still scored).

    >>> a = AlertMember("f1", {"service": "db", "alertname": "Slow"}, {}, 0, 0, "firing")
    >>> b = AlertMember("f2", {"service": "api", "alertname": "Errors"}, {}, 600 * 10**9,
    ...                 600 * 10**9, "firing")
    >>> [c.service for c in rank_by_onset([b, a])]
    ['db', 'api']
    """
    by_service: dict[str, list[AlertMember]] = {}
    for member in members:
        by_service.setdefault(candidate_of(member), []).append(member)
    graph = graph or ServiceGraph()
    if not by_service:
        return []
    # Infrastructure (a node, the cluster) is context while a service speaks for the fault.
    # Log bursts often start before the alert rules' `for:` has passed, on callers as on the
    # cause: they date a service (``first``) only when it has nothing else, or they would blur
    # the order. So do trace faults: a stray failed request is not an onset.
    infra, alerting, first, earliest, sampled, shifted, kinds = _per_service(by_service)
    if len(infra) == len(by_service):
        infra = set()
    anchors = alerting - infra or set(by_service) - infra
    symptom = {
        m.title
        for s in anchors
        for m in by_service[s]
        if m.kind == "anomaly" and m.score >= _CLEAR_SYMPTOM
    }
    judged = {s: _relevant(ms, symptom) for s, ms in by_service.items()}
    # Each step below that reads only members of some kind is skipped without one: it would
    # find nothing (most incidents hold alerts alone; ranking runs on every change).
    traced = trace_verdicts(by_service) if "span" in kinds else {}
    path = _path_from(anchors, by_service, graph, traced)
    # Onset order counts from the first alert when there are alerts: anomalies are evidence
    # around them, and an early stray one must not make every alert look late.
    placed = [s for s in by_service if s not in infra]
    first_alerts = [earliest[s][0] for s in placed if s in alerting]
    first_onset = first_alert_ns = (
        min(first_alerts) if first_alerts else min(earliest[s][1] for s in placed)
    )
    # Onsets are only known to the sampling interval: a series sampled every five minutes
    # can show a fault up to five minutes after one sampled every ten seconds.
    tolerance_ns = max(tolerance_ns, int(_INTERVALS_OF_LAG * sampled))
    if weights is None:
        # Moves are measured only where scoring tracks them (scoring.track_shift, opt-in):
        # without them, the ranking that cross-validates as well (rank_cv's OLD).
        weights = RankWeights() if shifted else WITHOUT_MOVES
    if weights.move_onsets:
        # Every service alerts at about the first alert's time once a `for:` has passed; the
        # metrics' own moves, each against its series' last hour, say who moved first.
        moved_at = move_onsets(by_service, first_onset, weights)
        first = {s: moved_at.get(s, t) for s, t in first.items()}
        first_onset = min(first_onset, *moved_at.values()) if moved_at else first_onset
    else:
        moved_at = {}
    # Two moves are dated to their samples: their order is blurred by sampling alone.
    move_tolerance_ns = max(
        int(_INTERVALS_OF_LAG * sampled), int(weights.move_tolerance_s * NS_PER_S)
    )
    # A service dated by an alert alone (no metric moved first) may have failed a `for:` before.
    slack = {
        s: _FOR_TOLERANCE_NS
        if s not in moved_at
        and not earliest[s][2] <= first[s]  # an anomaly's
        # Metrics measured and not moving strongly near the start: the alert is not late.
        and not (weights.move_onsets and s in shifted)
        else tolerance_ns
        for s in by_service
    }
    own_of = {s: judged[s] or ms for s, ms in by_service.items()}
    signals = {s: _Signals.of(own) for s, own in own_of.items()}
    facts = {}
    for service, own in own_of.items():
        onset = max(first[service], first_onset)
        # A dependency that started failing only after this service did explains nothing.
        failing = sorted(
            {
                dep
                for dep in graph.downstream(service) & by_service.keys()
                if first[dep]
                <= onset + move_lag(dep, service, moved_at, move_tolerance_ns, slack[dep])
                and _explains(signals[dep], signals[service])
            }
            | _failed_below(traced.get(service))
        )
        facts[service] = (onset, own, failing)
    # While some alerting service's failure is unexplained by its dependencies, it is the
    # lead; anomalies on services nobody alerted on are context. Once every alerting
    # service looks like a symptom, the anomalies below them are where the cause is.
    lead = any(not facts[s][2] for s in anchors) and anchors != set(by_service)
    scored = []
    # Services judged only on other metrics than the anchors' symptom; mere context.
    unlike = {s for s in by_service if symptom and not judged[s] and s not in anchors}
    bystanders = set(by_service) - anchors if lead else set()
    # A dependency that explains a caller's failure is late by its alert's `for:` at most.
    below = {dep for _, _, failing in facts.values() for dep in failing}
    changes, moves = changes_near_start(by_service, first_onset, weights) if shifted else ({}, {})
    # Missing, not zero: a service nothing measured moving is neither promoted nor sunk.
    unmeasured = quantile(sorted(changes.values()), weights.missing)
    for service, (onset, own, failing) in facts.items():
        late_ok = max(tolerance_ns, slack[service]) if service in below else tolerance_ns
        delay_ns = max(0, onset - first_onset - late_ok)
        timing = math.exp(-delay_ns / (decay_s * NS_PER_S))
        strengths = [_strength(m) for m in own]
        strength = max(strengths)
        # A learned inhibit rule names it a symptom of something firing before it.
        learned = any(m.learned for m in own)
        factor = _SYMPTOM_FACTOR if failing or learned else 1.0
        if service not in path:
            factor *= _OFF_PATH_FACTOR
        if service in unlike:
            factor *= _UNLIKE_FACTOR
        if service in bystanders:
            factor *= _BYSTANDER_FACTOR
        if service in infra:
            factor *= _INFRA_FACTOR
        # Ties (the factors are coarse) go to more evidence: the sum of the members' strengths.
        support = sum(strengths)
        structure = timing * (0.8 + 0.2 * strength) * factor
        score = combine(structure, changes.get(service, unmeasured), weights)
        scored.append((score, support, -onset, service))
    scored.sort(key=lambda row: (-round(row[0], 4), -row[1], -row[2], row[3]))
    dated = anchors | moved_at.keys()
    waves = second_wave(scored, facts, dated, first_onset, weights) if weights.wave_gap_s else set()
    promoted = {}
    if "anomaly" in kinds:  # movers are anomalies
        moved, early = first_movers(by_service, graph, first_alert_ns, weights)
        lead_first = min(m.first_ns for m in by_service[scored[0][3]])
        promoted = promote_movers(scored, moved, early, weights, first_alert_ns, lead_first)
    changed, lifted = {}, None
    if levels is not None:  # without a book (no series kept), nothing to read: no cost
        now_ns = max(m.last_ns for ms in by_service.values() for m in ms)
        changed = rootcause_levels.level_changes(
            levels, by_service, graph, first_alert_ns, now_ns, weights
        )
        lifted = rootcause_levels.promote_level(scored, changed, weights, graph)
        rootcause_levels.keep_movers(scored, changed, weights)
    out = []
    for rank, (score, _, _, service) in enumerate(scored[:limit]):
        if rank >= EVIDENCE_FOR:
            # Evidence only for the first few: it is most of the ranking's cost.
            out.append(Candidate(service, round(score, 4), ()))
            continue
        onset, own, failing = facts[service]
        ms = by_service[service]
        alerts = sorted({m.title for m in ms if m.kind == "alert"})
        anomalies = (
            sorted((m for m in own if m.kind == "anomaly"), key=lambda m: -m.score)
            if "anomaly" in kinds
            else []
        )
        bursts = _bursts(ms) if "log" in kinds else []
        evidence = (
            f"first signal at {format_ns(onset)}"
            + (
                " (earliest in the incident)"
                if onset == first_onset
                else f" ({(onset - first_onset) / NS_PER_S:.0f}s after the first)"
            ),
            *([f"{len(alerts)} alert(s): {', '.join(alerts[:5])}"] if alerts else []),
            *[f"anomalous: {m.annotations.get('description', m.title)}" for m in anomalies[:3]],
            *[f"logs: {m.annotations.get('description', m.title)}" for m in bursts[:2]],
            *(traced[service].evidence() if service in traced else ()),
            *(
                [
                    f"began {(onset - first_onset) / NS_PER_S:.0f}s into the incident, unexplained "
                    "by its dependencies: a second fault's likely cause"
                ]
                if service in waves
                else []
            ),
            *([describe_move(moves[service], first_alert_ns)] if service in moves else []),
            *describe_first_move(promoted.get(service), first_alert_ns),
            *rootcause_levels.describe_level(changed.get(service), service == lifted),
            *_topology_evidence(graph, service, failing),
            *sorted({m.learned for m in ms if m.learned})[:2],
            *(() if service in path else ("not on a dependency path from the alerting services",)),
            *(("infrastructure: a cause only on more than its onset",) if service in infra else ()),
            *(
                ("its anomalies are on other metrics than the alerting services'",)
                if service in unlike
                else ()
            ),
            *(
                ("anomalous, but an alerting service is unexplained: context",)
                if service in bystanders
                else ()
            ),
        )
        out.append(Candidate(service, round(score, 4), evidence))
    # Unnamed by any alert or anomaly, yet moved at the start: where the baseline looks.
    extras = rootcause_levels.level_extras(changed, by_service, weights) if changed else []
    if extras and rootcause_levels.outside_leads(changed, by_service, extras[0], weights):
        # It moved more than anything named (level_outside times): where the baseline
        # looks first, and what no alert or detector saw (issue 10).
        lead = extras.pop(0)
        line = rootcause_levels.describe_level(changed[lead], True, outside=True)
        out = [Candidate(lead, out[0].score if out else 0.0, line), *out][:limit]
    room = len(extras) if limit is None else max(0, limit - len(out))
    for service in extras[:room]:
        out.append(
            Candidate(
                service,
                round(scored[-1][0] * 0.5, 4),
                rootcause_levels.describe_level(changed[service], False),
            )
        )
    if levels is not None:
        first_moved = rootcause_levels.early_mover(
            levels, by_service, graph, first_alert_ns, now_ns, weights
        )
        if first_moved is not None:
            out = _place_early(out, *first_moved, weights)[:limit]
    return out


def _place_early(
    out: list[Candidate], service: str, change: tuple[float, str], weights: RankWeights
) -> list[Candidate]:
    """``service`` (what moved first, before the start) at ``level_early_place`` at the latest.

    It takes the score of the place it takes, so scores still fall; ranked there or
    before already, nothing moves.
    """
    place = weights.level_early_place - 1
    at = next((i for i, c in enumerate(out) if c.service == service), None)
    if at is not None and at <= place:
        return out
    line = rootcause_levels.describe_early(change, weights.level_early_s)
    rest = [c for c in out if c.service != service]
    place = min(place, len(rest))
    score = rest[place].score if place < len(rest) else (rest[-1].score if rest else 0.0)
    known = out[at].evidence if at is not None else ()
    return [*rest[:place], Candidate(service, score, (*known, line)), *rest[place:]]


_NONE = math.inf  # the earliest of no member: after any


def _per_service(by_service: dict[str, list[AlertMember]]) -> tuple:
    """In one pass over the members: what ``rank_by_onset`` reads of each service's.

    The services of infrastructure members alone, those alerting, each one's first onset
    (of members other than log bursts and trace faults, when it has any: ``_UNDATED``),
    its earliest (alert, member, anomaly), the longest sampling interval, the services with a
    member whose moves are measured, and the kinds of member there are. One loop, not a
    comprehension per question: incidents are ranked on every change (issue 10: ranking
    was ~30% of an alert).
    """
    infra: set[str] = set()
    alerting: set[str] = set()
    shifted: set[str] = set()
    first: dict[str, int] = {}
    earliest: dict[str, tuple] = {}
    kinds: set[str] = set()
    sampled = None
    for service, ms in by_service.items():
        alert = member = anomaly = dated = _NONE
        every_infra = True
        for m in ms:
            at, kind = m.first_ns, m.kind
            kinds.add(kind)
            if sampled is None or m.interval_ns > sampled:
                sampled = m.interval_ns
            every_infra = every_infra and m.infra
            if m.shift is not None:
                shifted.add(service)
            member = at if at < member else member
            if kind == "alert":
                alert = at if at < alert else alert
            elif kind == "anomaly":
                anomaly = at if at < anomaly else anomaly
            if kind not in _UNDATED:
                dated = at if at < dated else dated
        if every_infra:
            infra.add(service)
        if alert is not _NONE:
            alerting.add(service)
        first[service] = dated if dated is not _NONE else member
        earliest[service] = (alert, member, anomaly)
    return infra, alerting, first, earliest, sampled, shifted, kinds


def _bursts(members: list[AlertMember]) -> list[AlertMember]:
    """A service's log template bursts, largest first."""
    return sorted((m for m in members if m.kind == "log"), key=lambda m: (-m.count, m.title))


def _relevant(members: list[AlertMember], symptom: set[str]) -> list[AlertMember]:
    """Alerts, trace faults, and anomalies on the symptom's metrics (all when there is none)."""
    return [m for m in members if m.kind in _ALWAYS_RELEVANT or not symptom or m.title in symptom]


def _failed_below(verdict: TraceVerdict | None) -> set[str]:
    """Services whose spans failing under this one's make it a symptom in its traces.

    Only where failures from below are at least as many as its own deepest ones: a
    service failing on its own in most traces is not explained by a stray one below.
    """
    if verdict is None:
        return set()
    return {s for s, n in verdict.because_of.items() if n >= max(1, verdict.own)}


def _path_from(
    anchors: set[str],
    services: dict[str, list[AlertMember]],
    graph: ServiceGraph,
    traced: dict[str, TraceVerdict],
) -> set[str]:
    """The anchors and their dependencies reachable through services of the incident.

    A failed call in a trace is a dependency too, known or not to the graph.
    """
    path = set(anchors)
    frontier = list(anchors)
    while frontier:
        service = frontier.pop()
        below = traced[service].because_of if service in traced else {}
        for callee in [*graph.callees(service), *sorted(below)]:
            if callee not in path and callee in services:
                path.add(callee)
                frontier.append(callee)
    return path
