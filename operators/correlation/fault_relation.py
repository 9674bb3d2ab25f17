"""How a newcomer relates to an incident's fault: through its likely causes, not any member.

An incident's **likely causes** are its alerting services that no dependency's alert
preceded (a dependency whose alert started up to ``cause_lag_ns`` after theirs still
counts: a root's own alert often has a longer ``for:`` than its callers'). A newcomer
alert relates to the fault when its service

- is a likely cause's, or already alerting in the incident;
- depends on a likely cause within ``effect_hops`` (it is a symptom: faults climb the
  call graph towards callers);
- or is a dependency of a likely cause within ``max_hops`` and started no later than
  ``cause_lag_ns`` after it (it may be the real cause, showing late). A dependency that
  starts later than that is a fault of its own: a cause does not start after its effects.
  Its start is its alert's, or its metrics' first anomaly when that came earlier: a
  root's own alert often waits out a longer ``for:``, its metrics do not;
- or shares with a likely cause a dependency (within ``effect_hops`` of both) whose
  metrics turned anomalous no later than ``cause_lag_ns`` after that cause's alert: the
  real cause, not alerting yet, below both.

``cause_lag_ns`` is for starts only an alert dates. Where metrics date both sides (with
``sign_tol_ns``), a dependency is a cause only if it turned anomalous no later than
``sign_tol_ns`` after the likely cause did: metrics have no `for:` to wait out.

A newcomer that relates only as a symptom is a second fault's when
:func:`second_root` finds one below it: a dependency outside the fault whose metrics
turned anomalous after the fault's causes had (by more than ``sign_tol_ns``) and before
the newcomer fired, while the newcomer is of an alert kind new to the incident (issue 10's
overlapping faults: a new wave of errors on services already slow for the first).

Infrastructure alerts (no service, or an exporter's or the control plane's: see
:func:`~operators.correlation.alert_dedup.is_infrastructure`) relate only to the services running on
their node, as the labels of the domain's alerts and anomalies say (``NodeIndex``).
"""

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.topology import ServiceGraph


class NodeIndex:
    """Which services run on which node, from labels that name both; bounded, LRU."""

    def __init__(self, max_nodes: int = 10_000, per_node: int = 64) -> None:
        self.max_nodes = max_nodes
        self.per_node = per_node
        self.services: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()

    def observe(self, member: AlertMember) -> None:
        """Learn from a member that names a node and a service placed on it."""
        if member.node is None or member.infra or member.service is None:
            return
        on_node = self.services.pop(member.node, OrderedDict())
        on_node[member.service] = None
        on_node.move_to_end(member.service)
        while len(on_node) > self.per_node:
            on_node.popitem(last=False)
        self.services[member.node] = on_node
        while len(self.services) > self.max_nodes:
            self.services.popitem(last=False)

    def on(self, node: str | None) -> set[str]:
        """The services seen on ``node``."""
        return set(self.services.get(node, ())) if node else set()


@dataclass(frozen=True, slots=True)
class Relation:
    """How close a newcomer is to an incident's fault, and whether it belongs to that fault."""

    hops: int
    belongs: bool  # part of the fault: it extends the incident's session
    # Below a likely cause and no later than it: it may be the cause itself. Such a newcomer
    # related so to two incidents connects them (their common cause): they merge.
    cause: bool = False


def onsets(alerts: Iterable[AlertMember]) -> dict[str, int]:
    """The first start per service of the placeable (non-infrastructure) alerts."""
    out: dict[str, int] = {}
    for m in alerts:
        if m.kind == "alert" and not m.infra and m.service is not None:
            out[m.service] = min(out.get(m.service, m.first_ns), m.first_ns)
    return out


def likely_causes(
    started: dict[str, int], graph: ServiceGraph, cause_lag_ns: int, hops: int
) -> dict[str, int]:
    """The services no dependency's alert preceded (within ``cause_lag_ns``), with onsets.

    When every service has one (a cycle), the earliest are the likely causes.
    """
    roots = {
        service: onset
        for service, onset in started.items()
        if not any(
            dep in started and started[dep] <= onset + cause_lag_ns
            for dep in graph.downstream(service, hops)
        )
    }
    if roots or not started:
        return roots
    first = min(started.values())
    return {s: t for s, t in started.items() if t == first}


def relate_to_causes(
    member: AlertMember,
    started: dict[str, int],
    graph: ServiceGraph,
    *,
    max_hops: int,
    effect_hops: int,
    cause_lag_ns: int,
    signs: dict[str, int] | None = None,
    sign_tol_ns: int | None = None,
) -> Relation | None:
    """How an alert on a service the graph knows relates to the fault (None: it does not).

    ``signs`` says when services' metrics first turned anomalous around the incident;
    ``sign_tol_ns`` (None: off) how late a metrics-dated dependency may be and be a cause.
    """
    service = member.service
    signs = signs or {}
    began = min(member.first_ns, signs.get(service or "", member.first_ns))
    if service is None:
        return None
    if service in started:
        return Relation(0, True)
    best: int | None = None
    cause = False
    for root, onset in likely_causes(started, graph, cause_lag_ns, max(max_hops, 1)).items():
        if root in graph.downstream(service, effect_hops):
            hops = graph.distance(service, root, effect_hops)
        elif service in graph.downstream(root, max_hops) and began <= _latest_cause(
            service, root, onset, signs, cause_lag_ns, sign_tol_ns
        ):
            hops = graph.distance(service, root, max_hops)
            cause = True
        else:
            below = graph.downstream(service, effect_hops) & graph.downstream(root, effect_hops)
            hidden = [
                d for d in below if signs.get(d, onset + cause_lag_ns + 1) <= onset + cause_lag_ns
            ]
            if not hidden:
                continue
            hops = min(
                h for d in hidden if (h := graph.distance(service, d, effect_hops)) is not None
            )
        if hops is not None and (best is None or hops < best):
            best = hops
    return None if best is None else Relation(best, True, cause)


def _latest_cause(
    service: str,
    root: str,
    onset: int,
    signs: dict[str, int],
    cause_lag_ns: int,
    sign_tol_ns: int | None,
) -> int:
    """The latest start at which ``service``, below ``root``, may still be its cause."""
    if sign_tol_ns is None or service not in signs or root not in signs:
        return onset + cause_lag_ns  # an alert dates one side: allow for a longer `for:`
    return min(onset, signs[root]) + sign_tol_ns


def second_root(
    member: AlertMember,
    incident_alerts: Iterable[AlertMember],
    started: dict[str, int],
    graph: ServiceGraph,
    signs: dict[str, int],
    *,
    hops: int,
    effect_hops: int,
    cause_lag_ns: int,
    sign_tol_ns: int,
    wave_ns: int | None = None,
) -> str | None:
    """A dependency that started a fault of its own below ``member``'s service, or None.

    It is within ``hops`` below the newcomer, neither alerting in the incident nor calling
    one of its likely causes (so not a symptom of them), and its metrics turned anomalous
    more than ``sign_tol_ns`` after the causes' earliest sign and before the newcomer fired.
    Only a newcomer of an alert kind new to the incident is checked: one more of the kinds
    already there is more of the same fault. Where metrics say nothing (a cold estate), such
    a newcomer starting over ``wave_ns`` after the fault began is a second wave: its own
    service is returned.
    """
    service, name = member.service, member.labels.get("alertname")
    if service is None or name in {m.labels.get("alertname") for m in incident_alerts}:
        return None
    causes = likely_causes(started, graph, cause_lag_ns, max(hops, 1))
    if not causes:
        return None
    fault_began = min(min(t, signs.get(c, t)) for c, t in causes.items())
    if wave_ns is not None and member.first_ns > fault_began + wave_ns:
        return service  # a new kind of alert this long after the fault began: a new wave
    for dep in sorted(graph.downstream(service, hops)):
        sign = signs.get(dep)
        if sign is None or dep in started or dep == service:
            continue
        if not fault_began + sign_tol_ns < sign <= member.first_ns:
            continue
        if not any(c in graph.downstream(dep, effect_hops) for c in causes):
            return dep
    return None


def relate_infrastructure(
    member: AlertMember, incident_members: Iterable[AlertMember], nodes: NodeIndex
) -> Relation | None:
    """An infrastructure alert relates to an incident through its node, or not at all."""
    if member.node is None:
        return None
    services = nodes.on(member.node)
    for other in incident_members:
        if other.node == member.node or (other.service in services and not other.infra):
            return Relation(0, False)
    return None
