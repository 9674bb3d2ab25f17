"""The service dependency graph, learned from traces and/or read from a static file.

An edge ``caller -> callee`` is seen when a span of one service is the parent of a
span of another (a client span and the server span it caused). Edges carry the
event time they were last seen and age out after ``ttl_s``, so a retired
dependency stops shaping correlation. Spans of one trace may arrive in any order:
recent spans wait, bounded, for their parent or child.
"""

import csv
from collections import OrderedDict, deque
from collections.abc import Iterable
from pathlib import Path

from alertflow.schemas.errors import AlertflowError
from alertflow.schemas.records import SpanEvent
from alertflow.schemas.timefmt import NS_PER_S


class TopologyError(AlertflowError):
    """A static topology file could not be read."""


class ServiceGraph:
    """Caller -> callee edges with last-seen event times; static edges never age out.

    >>> g = ServiceGraph()
    >>> g.observe([SpanEvent("t", "a1", "", "web", "GET /", "client", 0, 5, False),
    ...            SpanEvent("t", "b1", "a1", "cart", "GET /", "server", 1, 4, False)])
    >>> g.callees("web"), g.distance("cart", "web")
    (['cart'], 1)
    """

    def __init__(self, ttl_s: float = 24 * 3600.0, max_pending: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.max_pending = max_pending
        self.edges: dict[tuple[str, str], int] = {}
        self.static: set[tuple[str, str]] = set()
        self._span_service: OrderedDict[str, str] = OrderedDict()
        self._orphans: OrderedDict[str, list[tuple[str, int]]] = OrderedDict()
        self.newest_ns = 0
        # Adjacency views, rebuilt only when the edge set changes (not on every lookup).
        self._calls: dict[str, set[str]] | None = None
        self._undirected: dict[str, set[str]] = {}
        self._downstream: dict[tuple[str, int], frozenset[str]] = {}
        self._revision = 0  # changes whenever the edge set does

    def add_static(self, edges: Iterable[tuple[str, str]]) -> None:
        """Edges known without tracing (they never age out)."""
        self.static.update((a, b) for a, b in edges if a != b)
        self._calls = None

    def observe(self, spans: Iterable[SpanEvent]) -> None:
        """Learn edges from spans, in any order within the pending bound."""
        for span in spans:
            self.newest_ns = max(self.newest_ns, span.start_ns)
            self._remember(span.span_id, span.service)
            parent = self._span_service.get(span.parent_span_id) if span.parent_span_id else None
            if parent is not None:
                self._edge(parent, span.service, span.start_ns)
            elif span.parent_span_id:
                waiting = self._orphans.setdefault(span.parent_span_id, [])
                waiting.append((span.service, span.start_ns))
                self._bound(self._orphans)
            for child, ts in self._orphans.pop(span.span_id, ()):
                self._edge(span.service, child, ts)
        self._expire()

    def neighbours(self, service: str) -> set[str]:
        """Services that call ``service`` or that it calls."""
        self._index()
        return set(self._undirected.get(service, ()))

    def callees(self, service: str) -> list[str]:
        """What ``service`` depends on, sorted."""
        return sorted(self._index().get(service, ()))

    def callers(self, service: str) -> list[str]:
        """What depends on ``service`` directly, sorted."""
        return sorted(self.neighbours(service) - self._index().get(service, set()))

    def downstream(self, service: str, limit: int = 3) -> frozenset[str]:
        """Everything ``service`` depends on, directly or through up to ``limit`` hops."""
        calls = self._index()
        cached = self._downstream.get((service, limit))
        if cached is not None:
            return cached
        found: set[str] = set()
        frontier = {service}
        for _ in range(limit):
            frontier = {c for s in frontier for c in calls.get(s, ())} - found - {service}
            if not frontier:
                break
            found |= frontier
        self._downstream[(service, limit)] = frozen = frozenset(found)
        return frozen

    def near(self, service: str, limit: int) -> frozenset[str]:
        """``service`` and every service within ``limit`` hops of it, ignoring direction."""
        self._index()
        cached = self._downstream.get((service, -limit))  # negative: not a downstream limit
        if cached is not None:
            return cached
        adjacency = self._undirected
        found, frontier = {service}, {service}
        for _ in range(limit):
            frontier = {n for s in frontier for n in adjacency.get(s, ())} - found
            if not frontier:
                break
            found |= frontier
        self._downstream[(service, -limit)] = frozen = frozenset(found)
        return frozen

    def distance(self, a: str, b: str, limit: int = 4) -> int | None:
        """Hops between two services ignoring direction, or None beyond ``limit``."""
        if a == b:
            return 0
        self._index()
        adjacency = self._undirected
        seen, frontier = {a}, deque([(a, 0)])
        while frontier:
            node, hops = frontier.popleft()
            if hops == limit:
                continue
            for nxt in adjacency.get(node, ()):
                if nxt == b:
                    return hops + 1
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, hops + 1))
        return None

    @property
    def revision(self) -> int:
        """A number that changes whenever the edge set does: for caches of what it implies."""
        self._index()
        return self._revision

    def known(self, service: str) -> bool:
        """Whether any edge mentions ``service``."""
        self._index()
        return service in self._undirected

    def _index(self) -> dict[str, set[str]]:
        if self._calls is None:
            calls: dict[str, set[str]] = {}
            undirected: dict[str, set[str]] = {}
            for caller, callee in self.static | set(self.edges):
                calls.setdefault(caller, set()).add(callee)
                undirected.setdefault(caller, set()).add(callee)
                undirected.setdefault(callee, set()).add(caller)
            self._calls, self._undirected = calls, undirected
            self._downstream = {}
            self._revision += 1
        return self._calls

    def _edge(self, caller: str, callee: str, ts_ns: int) -> None:
        if caller != callee:
            key = (caller, callee)
            if key not in self.edges:
                self._calls = None
            self.edges[key] = max(self.edges.get(key, 0), ts_ns)

    def _remember(self, span_id: str, service: str) -> None:
        if span_id:
            self._span_service[span_id] = service
            self._bound(self._span_service)

    def _bound(self, table: OrderedDict) -> None:
        while len(table) > self.max_pending:
            table.popitem(last=False)

    def _expire(self) -> None:
        cutoff = self.newest_ns - int(self.ttl_s * NS_PER_S)
        for edge in [e for e, seen in self.edges.items() if seen < cutoff]:
            del self.edges[edge]
            self._calls = None


def read_static_topology(path: Path) -> list[tuple[str, str]]:
    """Edges from a CSV adjacency matrix, or from a ``caller,callee`` edge list.

    The matrix has a header of names after one blank cell, then a row per caller: its
    name, then numbers; a non-zero cell means the row calls the column.
    """
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except OSError as exc:
        raise TopologyError(f"cannot read topology file {path}: {exc.strerror}") from None
    if not rows:
        raise TopologyError(f"topology file {path} is empty")
    header = [cell.strip() for cell in rows[0]]
    if len(header) == 2 and header[0].lower() in ("caller", "source", "from"):
        return [(a.strip(), b.strip()) for a, b, *_ in rows[1:] if a.strip() and b.strip()]
    callees = header[1:]
    edges = []
    for row in rows[1:]:
        caller = row[0].strip()
        for callee, cell in zip(callees, row[1:], strict=False):
            try:
                linked = float(cell) != 0
            except ValueError:
                raise TopologyError(
                    f"topology file {path}: expected numbers in the matrix, got {cell!r}"
                ) from None
            if linked and caller != callee:
                edges.append((caller, callee))
    return edges
