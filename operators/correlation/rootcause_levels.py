"""The ranking's rules on what changed at an incident's start (``rank_levels``' book).

Read by ``correlation.rootcause``: the changes of the incident's services and their
dependencies at its start, the member that changed far most taking first place, the
dependencies no alert named that changed strongly following the members, or leading them
when they changed most of all, what moved most at an earlier start (a fault still going
when this one began) among the first three, and the evidence lines naming each.
"""

import math
from collections.abc import Iterable

from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.rank_moves import RankWeights
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.schemas.timefmt import NS_PER_S

# A change under one spread of its hour before is noise: it names nothing.
NOISE_SPREADS = 1.0


def level_changes(
    levels: LevelBook | None,
    services: Iterable[str],
    graph: ServiceGraph,
    first_alert_ns: int,
    now_ns: int,
    weights: RankWeights,
) -> dict[str, tuple[float, str]]:
    """The incident's services' and their dependencies' changes at its start.

    The start is ``level_lead_s`` before the first alert: an alert fires a `for:` after
    its metric turned.
    """
    if levels is None or (not weights.level_first and math.isinf(weights.level_extra)):
        return {}
    start = first_alert_ns - int(weights.level_lead_s * NS_PER_S)
    found = _near_changes(levels, services, graph, start, now_ns)
    if weights.level_kind:
        found = _kind_scaled(found, weights.level_kind)
    # (change, series) pairs: the largest change, ties to the larger name, as tuples compare.
    return {s: max(cs) for s, cs in found.items() if cs}


def early_mover(
    levels: LevelBook | None,
    services: Iterable[str],
    graph: ServiceGraph,
    first_alert_ns: int,
    now_ns: int,
    weights: RankWeights,
) -> tuple[str, tuple[float, str]] | None:
    """The service that moved most at an earlier start, if ``level_early_min`` spreads or more.

    The earlier start is ``level_early_s`` before the incident's (``level_lead_s`` before the
    first alert): what changed there against its own hour before, among the incident's
    services and their dependencies, began before the incident did. A fault still going
    when another begins (a slow leak) shares the later fault's alerts, and at the
    incident's start its change is small beside the later root's: here it leads.
    Returns ``(service, (change, series))``; ties go to the larger series name, then
    service name, as tuples compare.
    """
    if levels is None or math.isinf(weights.level_early_s) or weights.level_early_place < 1:
        return None
    start = first_alert_ns - int((weights.level_lead_s + weights.level_early_s) * NS_PER_S)
    found = _near_changes(levels, services, graph, start, now_ns)
    best = max(((max(cs), s) for s, cs in found.items() if cs), default=None)
    if best is None or best[0][0] < max(weights.level_early_min, NOISE_SPREADS):
        return None
    return best[1], best[0]


def _near_changes(
    levels: LevelBook, services: Iterable[str], graph: ServiceGraph, start: int, now_ns: int
) -> dict[str, list[tuple[float, str]]]:
    """The changes at ``start`` of the services and of their dependencies, per service."""
    services = set(services)
    near = services | {d for s in services for d in graph.downstream(s)}
    return levels.series_changes(sorted(near), start, max(now_ns, start))


def _kind_scaled(
    found: dict[str, list[tuple[float, str]]], power: float
) -> dict[str, list[tuple[float, str]]]:
    """Each change over its metric's median change across the services, to ``power``.

    An error ratio is near constant before a fault, so every caller's jumps by hundreds of
    its spreads while the root's CPU moves by tens: against its own kind, the CPU stands out.
    """
    by_kind: dict[str, list[float]] = {}
    for cs in found.values():
        for change, series in cs:
            by_kind.setdefault(series.split("{", 1)[0], []).append(change)
    scale = {k: max(1.0, sorted(v)[len(v) // 2]) ** power for k, v in by_kind.items()}
    return {
        s: [(change / scale[series.split("{", 1)[0]], series) for change, series in cs]
        for s, cs in found.items()
    }


def promote_level(
    scored: list[tuple[float, float, int, str]],
    changes: dict[str, tuple[float, str]],
    weights: RankWeights,
    graph: ServiceGraph | None = None,
) -> str | None:
    """Give first place to the member that changed most, if far more than the first did.

    Far more: ``level_first`` times the first place's change, and ``level_min`` spreads at
    least; only ``level_below`` times when it is a dependency of the first place (``graph``)
    and moved ``NOISE_SPREADS`` or more: a cause sits below its symptoms, so a dependency
    that moved more at the start is the likelier one. A first place with no series kept
    keeps its place. The promoted service takes first place's score (scores still fall).
    """
    if not weights.level_first or not scored:
        return None
    place = {row[3]: i for i, row in enumerate(scored)}
    top = max(
        (s for s in changes if s in place),
        key=lambda s: (changes[s][0], -place[s]),
        default=None,
    )
    lead = scored[0][3]
    # A first place with no series kept is missing, not unchanged: nothing to compare.
    if top is None or top == lead or lead not in changes:
        return None
    moved, lead_moved = changes[top][0], changes[lead][0]
    ratio = weights.level_first
    if (
        graph is not None
        and weights.level_below < ratio
        and moved >= NOISE_SPREADS
        and top in graph.downstream(lead)
    ):
        ratio = weights.level_below
    if moved < weights.level_min or moved < ratio * lead_moved or moved <= lead_moved:
        return None
    row = scored.pop(place[top])
    scored.insert(0, (scored[0][0], *row[1:]))
    return top


def keep_movers(
    scored: list[tuple[float, float, int, str]],
    changes: dict[str, tuple[float, str]],
    weights: RankWeights,
) -> list[str]:
    """Keep the members that changed most at the start among the first places (in place).

    The i-th largest change (``level_keep`` of them, each ``level_keep_min`` spreads or more)
    is moved up to place i + 1 at the latest: what the z-score baseline would name first is
    named in the first few, after the first place. Returns the services moved.
    """
    if not weights.level_keep or not scored:
        return []
    place = {row[3]: i for i, row in enumerate(scored)}
    movers = sorted(
        (s for s in changes if s in place and changes[s][0] >= weights.level_keep_min),
        key=lambda s: (-changes[s][0], place[s]),
    )[: weights.level_keep]
    moved = []
    for i, service in enumerate(movers):
        at = next(j for j, row in enumerate(scored) if row[3] == service)
        if at > i + 1:
            row = scored.pop(at)
            scored.insert(i + 1, (scored[i + 1][0], *row[1:]))
            moved.append(service)
    return moved


def level_extras(
    changes: dict[str, tuple[float, str]], members: Iterable[str], weights: RankWeights
) -> list[str]:
    """Dependencies outside the incident that moved ``level_extra`` spreads at its start.

    Largest change first (then by name): ranked after every member of the incident.
    """
    inside = set(members)
    out = [
        s for s, (moved, _) in changes.items() if s not in inside and moved >= weights.level_extra
    ]
    return sorted(out, key=lambda s: (-changes[s][0], s))


def outside_leads(
    changes: dict[str, tuple[float, str]], members: Iterable[str], extra: str, weights: RankWeights
) -> bool:
    """Whether a dependency outside the incident takes first place from its members.

    Only when it changed ``level_outside`` times more than every member with kept series:
    no alert or anomaly named it (a root whose own alert never fired, or whose metrics no
    detector flagged), yet the series moved far most at the start. Members with no series
    kept are missing, not unchanged: with none measured, nothing is compared.
    """
    measured = [changes[s][0] for s in members if s in changes]
    if not measured or math.isinf(weights.level_outside):
        return False
    return changes[extra][0] >= weights.level_outside * max(measured)


def describe_early(change: tuple[float, str], early_s: float) -> str:
    """The evidence line of the service that moved first, before the incident's start."""
    moved, series = change
    return (
        f"{series} moved {moved:.1f} spreads at a start {early_s / 60:.0f} min before the "
        "incident's, more than any other: an earlier fault still going"
    )


def describe_level(
    change: tuple[float, str] | None, promoted: bool, outside: bool = False
) -> tuple[str, ...]:
    """The evidence line of a service's change at the incident's start (none if small)."""
    if change is None or change[0] < NOISE_SPREADS:
        return ()
    moved, series = change
    line = f"{series} moved {moved:.1f} spreads at the incident's start from its hour before"
    if outside:
        return (line + ": more than any service the incident names; no alert named it",)
    return (line + (": the largest change in the incident" if promoted else ""),)
