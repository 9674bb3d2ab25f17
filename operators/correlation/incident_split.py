"""A second root told by its own metrics' level change (issue 10, failure modes 1 and 4).

A second fault starting minutes into a running one, in a connected part of the graph,
alerts on services whose calls reach the first fault's likely cause: by topology and
timing alone its alerts are that fault's symptoms. The per-series level book
(:class:`~operators.correlation.rank_levels.LevelBook`, 5-minute buckets) says more: a
series whose level first moved (against its own hour before) after the running fault
began, by more than propagation allows, on the newcomer's service or a dependency of it
that is not alerting in the incident, is a change the running fault did not make. With
``level_split`` on, such a newcomer is kept out of the incident: it opens (or joins) its
own.

A series' **onset** is the start of the first bucket, since a look-back before the fault,
whose mean moved at least ``z`` spreads from the hour before that bucket. A series whose
onset came before the fault began (plus ``lag``) is the running fault's (or older): it
is not fresh evidence, so a service already disturbed by the first fault needs another
series moving later to count.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alertflow.operators.correlation.fault_relation import likely_causes
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.schemas.timefmt import NS_PER_S


@dataclass(frozen=True, slots=True)
class LevelSplit:
    """When a level change is a second root's: its size, lateness and look-back."""

    z: float = 5.0  # a bucket's mean this many spreads from its hour before: a change
    lag_s: float = 300.0  # this much after the running fault began: not its propagation
    lookback_s: float = 1800.0  # onsets looked for from this long before the fault began
    # A service that calls a likely cause may be its symptom: count it only when True.
    callers: bool = False


def series_onsets(
    book: LevelBook, service: str, since_ns: int, now_ns: int, z: float
) -> dict[str, int]:
    """Per series of ``service``: the start of its first bucket since ``since_ns`` that moved.

    Only buckets closed by ``now_ns`` are read; a series that did not move is left out.
    """
    bucket_ns = book.bucket_ns
    out: dict[str, int] = {}
    first, last = since_ns // bucket_ns, now_ns // bucket_ns - 1
    for series, ring in book.rings.get(service, {}).items():
        for bucket in range(first, min(last, ring.head) + 1):
            start = bucket * bucket_ns
            if ring.change(start, now_ns, after_s=0.0) >= z:
                out[series] = start
                break
    return out


def fault_began(book: LevelBook, causes: Mapping[str, int], now_ns: int, split: LevelSplit) -> int:
    """When the running fault began: its likely causes' alerts, or their levels' earlier moves.

    Read at ``now_ns``: a cause's move is dated once its bucket closed, often after its alert.
    """
    began = min(causes.values())
    since = began - int(split.lookback_s * NS_PER_S)
    for cause in causes:
        moved = series_onsets(book, cause, since, now_ns, split.z).values()
        began = min(began, *moved) if moved else began
    return began


def level_second_root(
    service: str,
    fired_ns: int,
    started: Mapping[str, int],
    graph: ServiceGraph,
    book: LevelBook | None,
    split: LevelSplit,
    *,
    hops: int,
    effect_hops: int,
    cause_lag_ns: int,
) -> str | None:
    """The service, ``service`` or within ``hops`` below it, whose level moved fresh, or None.

    Fresh: a series first moved more than ``lag_s`` after the running fault began and by the
    time the newcomer fired (``fired_ns``). The service is not alerting in the incident
    (``started``); with ``callers`` off, it also calls none of the likely causes (a caller
    may be their symptom).
    """
    if book is None:
        return None
    causes = likely_causes(dict(started), graph, cause_lag_ns, max(hops, 1))
    if not causes:
        return None
    now_ns = fired_ns + book.bucket_ns  # the buckets closed by the time it fired
    began = fault_began(book, causes, now_ns, split)
    since = began - int(split.lookback_s * NS_PER_S)
    after = began + int(split.lag_s * NS_PER_S)
    for dep in _candidates(service, graph, hops):
        if dep in started:
            continue
        if not split.callers and any(c in graph.downstream(dep, effect_hops) for c in causes):
            continue
        onsets = series_onsets(book, dep, since, now_ns, split.z)
        # Fresh only if every series of it that moved, moved after the fault began (+ lag).
        if onsets and min(onsets.values()) > after:
            return dep
    return None


def _candidates(service: str, graph: ServiceGraph, hops: int) -> Iterable[str]:
    """The newcomer's own service first, then its dependencies within ``hops``, sorted."""
    yield service
    yield from sorted(graph.downstream(service, hops) - {service})
