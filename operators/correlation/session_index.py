"""Which open incidents a newcomer could relate to, without scanning them all (issue 10).

``IncidentGrouper._session_for`` tests a newcomer against open incidents one by one;
with a thousand open that is most of an alert's cost. Every way a newcomer relates
to an incident goes through something both name, so the incidents are indexed by it:

- the call graph (``operators.correlation.fault_relation``): an incident's services within
  ``reach`` undirected hops of the newcomer's (a likely cause, a symptom, or a shared
  dependency below both); incidents of services the graph does not know relate by
  time alone, so they are always candidates, as every incident is for a newcomer the
  graph cannot place;
- its node (infrastructure alerts), a ``join_labels`` value, its kind of alert
  (storms), or a learned rule whose cause kind fires there.

The candidates are a superset of the incidents that relate; the grouper still checks
each one, so the index changes the cost, never the result.
"""

from collections.abc import Iterable

from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.inhibition import alert_kind
from alertflow.operators.correlation.topology import ServiceGraph

Key = tuple[str, ...]


def keys_of(member: AlertMember, join_labels: Iterable[str]) -> list[Key]:
    """What an incident is found by once ``member`` is in it."""
    keys: list[Key] = []
    if member.service:
        keys.append(("service", member.service))
    if member.node:
        keys.append(("node", member.node))
    if member.kind == "alert":
        keys.extend(("label", k, v) for k in join_labels if (v := member.labels.get(k)))
        keys.append(("akind", alert_kind(member.labels)))
        if member.kind_id:
            keys.append(("kind", member.kind_id))
    return keys


class SessionIndex:
    """Open incident ids by what relates a newcomer to them."""

    def __init__(self) -> None:
        self.by_key: dict[Key, set[str]] = {}
        self.keys: dict[str, set[Key]] = {}  # incident id -> its keys
        self.kinds: set[str] = set()  # the alert kinds indexed (learned rules' causes)
        self.blind: set[str] = set()  # indexed services the graph does not know...
        self.revision = -1  # ...as of this revision of the graph

    def add(self, incident_id: str, keys: Iterable[Key], graph: ServiceGraph) -> None:
        """Index an incident under ``keys`` (on top of what it had)."""
        mine = self.keys.setdefault(incident_id, set())
        for key in keys:
            if key not in mine:
                mine.add(key)
                self.by_key.setdefault(key, set()).add(incident_id)
                if key[0] == "service" and not graph.known(key[1]):
                    self.blind.add(key[1])
                elif key[0] == "akind":
                    self.kinds.add(key[1])

    def drop(self, incident_id: str) -> set[Key]:
        """Forget an incident (resolved or merged); its keys."""
        keys = self.keys.pop(incident_id, set())
        for key in keys:
            ids = self.by_key.get(key)
            if ids is not None:
                ids.discard(incident_id)
                if not ids:
                    del self.by_key[key]
                    if key[0] == "service":
                        self.blind.discard(key[1])
                    elif key[0] == "akind":
                        self.kinds.discard(key[1])
        return keys

    def candidates(
        self,
        member: AlertMember,
        graph: ServiceGraph,
        reach: int,
        join_labels: Iterable[str],
        causes: Iterable[str] | None,
        on_node: set[str],
    ) -> set[str] | None:
        """Ids of the incidents ``member`` could relate to; None: any of them could.

        ``causes`` are the kinds a learned rule makes ``member`` follow (None: no rules
        are learnt): looked up here, not every indexed kind asked whether it is one;
        ``on_node`` are the services seen on its node.
        """
        service = member.service
        placed = service is not None and not member.infra and graph.known(service)
        if not placed and not member.infra:
            return None  # time alone relates it to any incident
        found: set[str] = set()
        by_key = self.by_key
        near = graph.near(service, reach) if placed and service else set()
        for other in near:
            found |= by_key.get(("service", other), set())
        if self.revision != graph.revision:  # the graph learnt edges: who is blind changed
            self.revision = graph.revision
            self.blind = {k[1] for k in by_key if k[0] == "service" and not graph.known(k[1])}
        for other in self.blind:
            found |= by_key.get(("service", other), set())  # relates by time alone
        if member.kind == "alert" and causes is not None:
            for kind in causes:
                if kind in self.kinds:
                    found |= by_key[("akind", kind)]
        if member.node:
            found |= by_key.get(("node", member.node), set())
            for other in on_node:
                found |= by_key.get(("service", other), set())
        if member.kind == "alert":
            for k in join_labels:
                if value := member.labels.get(k):
                    found |= by_key.get(("label", k, value), set())
            if member.kind_id:
                found |= by_key.get(("kind", member.kind_id), set())
        return found
