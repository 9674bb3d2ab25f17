"""Evidence waiting for an incident, indexed by service, so gathering it need not scan it all.

An anomaly (log burst, trace fault) related to no incident waits as evidence; when an
alert joins an incident, the incident gathers the waiting evidence related to it, and
what is related to that, in passes over the waiting evidence in arrival order until a
pass finds nothing (``IncidentGrouper._gather``). A scan of every waiting member per
pass made an alert's cost grow with the evidence waiting (10,000 by default), and the
passes with how far relatedness chains (issue 10).

Evidence relates to an incident through the call graph (its service within
``max_hops`` of a member's, ``correlation.joining``), its node (an infrastructure
member), or by time alone (a service the graph does not know). So :func:`gather`
visits, in arrival order, only the waiting members that could relate: those near
the incident's services (near those it gained in the pass before, after the first
pass; near one gained during a pass, those later in that pass), on a service the
graph does not know, or with a node. Each visited member is checked exactly as
before, and where relatedness could shrink or time alone relate everything (no
service the graph knows, an incident without alerts, a member evicted past
``max_members``) a pass visits everything: the members attached, and their order,
are those of the scan.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from heapq import heapify, heappop, heappush
from typing import Any

from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.topology import ServiceGraph


class EvidencePool(OrderedDict[str, AlertMember]):
    """Waiting evidence by fingerprint, oldest first, with its services indexed."""

    def __init__(self, items: Iterable[tuple[str, AlertMember]] = ()) -> None:
        super().__init__()
        self.order: dict[str, int] = {}  # fingerprint -> arrival number (its place)
        self.arrivals = 0
        # A service's waiting fingerprints (infrastructure jobs' too: a superset is harmless).
        self.by_service: dict[str, dict[str, None]] = {}
        self.noded: dict[str, None] = {}  # infrastructure members with a node
        self.blind: set[str] = set()  # indexed services the graph does not know...
        self.unchecked: set[str] = set()  # ...but these, indexed since, not yet asked
        self.revision = -1  # ...as of this revision of the graph
        for key, member in items:
            self[key] = member

    def __setitem__(self, key: str, member: AlertMember) -> None:
        if key in self:
            self._unindex(key, self[key])
        else:
            self.order[key] = self.arrivals
            self.arrivals += 1
        super().__setitem__(key, member)
        if member.service:
            self.by_service.setdefault(member.service, {})[key] = None
            self.unchecked.add(member.service)
        if member.infra and member.node:
            self.noded[key] = None

    def __delitem__(self, key: str) -> None:
        member = self[key]
        super().__delitem__(key)
        self._unindex(key, member)
        del self.order[key]

    def pop(self, key: str, *default: Any) -> Any:  # noqa: D102 (dict's)
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        member = self[key]
        del self[key]
        return member

    def popitem(self, last: bool = True) -> tuple[str, AlertMember]:  # noqa: D102 (dict's)
        key = next(reversed(self)) if last else next(iter(self))
        return key, self.pop(key)

    def clear(self) -> None:  # noqa: D102 (dict's)
        super().clear()
        self.order, self.by_service, self.noded = {}, {}, {}
        self.blind, self.unchecked = set(), set()

    def __reduce__(self) -> tuple:
        return self.__class__, (list(self.items()),)

    def copy(self) -> "EvidencePool":  # noqa: D102 (dict's)
        return self.__class__(self.items())

    def _unindex(self, key: str, member: AlertMember) -> None:
        if member.service:
            keys = self.by_service.get(member.service)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self.by_service[member.service]
                    self.blind.discard(member.service)
                    self.unchecked.discard(member.service)
        self.noded.pop(key, None)

    def near(self, services: Iterable[str], graph: ServiceGraph, hops: int) -> Iterator[str]:
        """Fingerprints on a service within ``hops`` of one of ``services``, ignoring direction."""
        by_service = self.by_service
        for service in services:
            for other in graph.near(service, hops):
                yield from by_service.get(other, ())

    def unplaced(self, graph: ServiceGraph) -> Iterator[str]:
        """Fingerprints the graph cannot place (time alone relates them), or with a node."""
        if self.revision != graph.revision:  # edges changed: who is blind changed
            self.revision, self.unchecked = graph.revision, set()
            self.blind = {s for s in self.by_service if not graph.known(s)}
        elif self.unchecked:
            self.blind.update(s for s in self.unchecked if not graph.known(s))
            self.unchecked = set()
        for service in self.blind:
            yield from self.by_service[service]
        yield from self.noded


def gather(
    pool: "OrderedDict[str, AlertMember]",
    incident: IncidentState,
    graph: ServiceGraph,
    hops: int,
    fits: Callable[[AlertMember], bool],
    attach: Callable[[str, AlertMember], None],
) -> None:
    """Attach what ``fits`` the incident, in passes in arrival order, as a scan would.

    ``fits`` says whether a waiting member relates (time and placement), ``attach``
    moves it into the incident.
    """
    fresh: set[str] | None = None  # services gained in the pass before; None: look near all
    found = True
    while found and pool:
        found = False
        services = _services(incident)
        scan = (
            not isinstance(pool, EvidencePool)
            or not incident.alerts
            or not any(graph.known(s) for s in services)
        )
        if scan:
            keys: Iterable[str] = pool
            order = {k: i for i, k in enumerate(pool)}
        else:
            assert isinstance(pool, EvidencePool)
            near = pool.near(services if fresh is None else fresh, graph, hops)
            keys, order = {*near, *pool.unplaced(graph)}, pool.order
        queue = [(order[k], k) for k in keys]
        heapify(queue)
        queued = set(keys)
        gained: set[str] = set()
        while queue:
            place, key = heappop(queue)
            member = pool.get(key)
            if member is None or not fits(member):
                continue
            omitted = incident.omitted
            attach(key, member)
            found = True
            more: Iterable[str] = ()
            if incident.omitted != omitted or not incident.alerts:
                scan = True  # a member left, or time alone relates: the rest of the scan
                more = list(pool)
            elif not scan and not member.infra and member.service not in services:
                assert isinstance(pool, EvidencePool) and member.service is not None
                gained.add(member.service)
                services.add(member.service)
                more = set(pool.near((member.service,), graph, hops))
            for other in more:
                if other not in queued and order[other] > place:
                    queued.add(other)
                    heappush(queue, (order[other], other))
        fresh = None if scan else gained


def _services(incident: IncidentState) -> set[str]:
    """The services evidence relates to in an incident (``joining._relating``)."""
    return {m.service for m in incident.members.values() if m.service and not m.infra}


class FirstSigns(Mapping[str, int]):
    """When services' metrics first turned anomalous since ``since_ns``: waiting or in ``known``.

    Looked up per service (``fault_relation`` asks only of the services it weighs), so a
    newcomer's cost does not grow with the evidence waiting on other services.
    """

    def __init__(self, pool: EvidencePool, since_ns: int, known: dict[str, int]) -> None:
        self.pool, self.since_ns, self.known = pool, since_ns, known
        self.cache: dict[str, int | None] = {}

    def _waiting(self, service: str) -> int | None:
        if service not in self.cache:
            pool, since = self.pool, self.since_ns
            firsts = [
                m.first_ns
                for k in pool.by_service.get(service, ())
                if (m := pool[k]).kind == "anomaly" and m.first_ns >= since
            ]
            self.cache[service] = min(firsts, default=None)
        return self.cache[service]

    def get(self, service: str, default: int | None = None) -> int | None:  # type: ignore[override]
        """The first sign, or ``default``: without raising, as most services have none."""
        known, waiting = self.known.get(service), self._waiting(service)
        if known is None:
            return default if waiting is None else waiting
        return known if waiting is None else min(known, waiting)

    def __getitem__(self, service: str) -> int:
        first = self.get(service)
        if first is None:
            raise KeyError(service)
        return first

    def __contains__(self, service: object) -> bool:
        return isinstance(service, str) and self.get(service) is not None

    def __iter__(self) -> Iterator[str]:
        return iter({s for s in (*self.known, *self.pool.by_service) if s in self})

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return True  # as falsy as {} would be: asked nothing, it answers as {} does


def first_signs(
    pool: "OrderedDict[str, AlertMember]", since_ns: int, members: Iterable[AlertMember]
) -> Mapping[str, int]:
    """When services' metrics first turned anomalous since ``since_ns``, waiting or ``members``."""
    known: dict[str, int] = {}
    for m in members:
        if m.kind == "anomaly" and m.service and m.first_ns >= since_ns:
            known[m.service] = min(known.get(m.service, m.first_ns), m.first_ns)
    if isinstance(pool, EvidencePool):
        return FirstSigns(pool, since_ns, known)
    firsts: dict[str, int] = {}  # a snapshot from before the pool: scanned
    for m in pool.values():
        if m.kind == "anomaly" and m.service and m.first_ns >= since_ns:
            firsts[m.service] = min(firsts.get(m.service, m.first_ns), m.first_ns)
    for service, first in known.items():
        firsts[service] = min(firsts.get(service, first), first)
    return firsts
