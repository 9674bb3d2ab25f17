"""Alert deduplication by Alertmanager fingerprint; the member record incidents are made of."""

from dataclasses import dataclass, field
from enum import Enum

from alertflow.operators.restorable import Restorable
from alertflow.schemas.records import AlertEvent


class Change(Enum):
    """What an incoming alert event means for its member."""

    NEW = "new"  # first time this fingerprint fires
    REPEAT = "repeat"  # a re-send with nothing new
    RESOLVED = "resolved"  # a firing member has resolved
    REFIRED = "refired"  # a resolved member fires again (flapping, or a new episode)
    STRONGER = "stronger"  # a firing member's severity rose (an anomaly scored higher)
    STALE_RESOLVE = "stale_resolve"  # a resolve for something never seen firing


@dataclass(slots=True)
class AlertMember(Restorable):
    """One fingerprint's history while it belongs to an incident.

    ``kind`` is ``alert`` (an Alertmanager fingerprint) or ``anomaly`` (a series the
    scorer judged anomalous; ``score`` is its strongest score so far, ``delta`` its
    largest distance from the expected value, in the series' own unit, and
    ``interval_ns`` how often the series is sampled).
    """

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    first_ns: int
    last_ns: int
    status: str
    count: int = 1
    flaps: int = 0
    resolved_ns: int | None = None
    refs: list[str] = field(default_factory=list)
    kind: str = "alert"
    severity: str = "warning"
    score: float = 0.0
    title: str = ""
    delta: float = 0.0
    change: float = 0.0  # largest |value - expected| / |expected| (inf from an expected 0)
    # An anomaly's largest move from its series' own last hour, in spreads (None: unknown,
    # a new series), and when the series began moving (operators.series_shift).
    shift: float | None = None
    onset_ns: int = 0
    interval_ns: int = 0
    expired: bool = False  # resolved by silence, not by its source
    starts_ns: int = 0  # startsAt of the current episode (first_ns is the first one's)
    episodes: int = 1  # episodes that started within the flap window, this one included
    hold_ns: int = 0  # quiet time its incident waits after it resolves (flap damping)
    kind_id: str = ""  # an alert's cluster of similar alerts (operators.correlation.alert_clusters)
    learned: str = ""  # why it joined as a learned symptom (correlation.inhibition), if it did
    # Joined as part of its incident's fault (the call graph, or time where it cannot tell);
    # False where only a storm, a learned rule or a node relates it: it extends no session.
    own_fault: bool = True
    # The service the labels name (service_of), kept: ranking asks for it ~100 times a version.
    service: str | None = field(init=False, default=None)
    infra: bool = field(init=False, default=False)  # about a node or the cluster
    node: str | None = field(init=False, default=None)  # the node its labels name, if any

    def __post_init__(self) -> None:
        self.service = service_of(self.labels)
        self.infra = is_infrastructure(self.labels)
        self.node = node_of(self.labels)


SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_SEVERITY_ALIASES = {
    "page": "critical",
    "error": "critical",
    "high": "critical",
    "major": "critical",
}


def alert_severity(labels: dict[str, str]) -> str:
    """Map an alert's ``severity`` label onto info/warning/critical."""
    raw = labels.get("severity", "warning").lower()
    raw = _SEVERITY_ALIASES.get(raw, raw)
    return raw if raw in SEVERITY_RANK else "warning"


def service_of(labels: dict[str, str]) -> str | None:
    """The service labels name, by the usual label names, first found wins."""
    for name in ("service", "service_name", "job", "app", "container"):
        if name in labels:
            return labels[name]
    return None


# Jobs whose alerts are about nodes and the cluster, not the service that names them
# (kube-prometheus's exporters and control plane): the call graph cannot place them.
INFRASTRUCTURE_JOBS = frozenset({
    "node-exporter", "node_exporter", "kubelet", "kube-state-metrics", "kube-proxy",
    "kube-apiserver", "apiserver", "kube-scheduler", "kube-controller-manager", "coredns",
    "kube-dns", "cadvisor", "etcd", "prometheus", "prometheus-operator", "alertmanager",
})  # fmt: skip
NODE_LABELS = ("node", "kubernetes_node", "nodename", "hostname")


def is_infrastructure(labels: dict[str, str]) -> bool:
    """An alert about a node or the cluster: no service label, or an infrastructure job's."""
    service = service_of(labels)
    return service is None or service in INFRASTRUCTURE_JOBS


def node_of(labels: dict[str, str]) -> str | None:
    """The node the labels name, by the usual label names, first found wins."""
    for name in NODE_LABELS:
        if labels.get(name):
            return labels[name]
    return None


MAX_REFS = 8  # enough to trace a member back to its messages without unbounded growth


def evidence_change(member: AlertMember, stronger: bool) -> Change:
    """What one more sign of evidence (an anomaly, a log burst) means for its member.

    A member still firing repeats, or grows stronger when its severity rose; a
    resolved one fires again.
    """
    if member.status == "firing":
        # A rise in severity is a change worth a version; a stronger score alone is not.
        return Change.STRONGER if stronger else Change.REPEAT
    member.status = "firing"
    member.flaps += 1
    member.resolved_ns = None
    member.expired = False
    return Change.REFIRED


def apply_event(member: AlertMember | None, event: AlertEvent) -> tuple[AlertMember | None, Change]:
    """Fold one event into its member, returning the member and what changed."""
    if member is None:
        if event.status == "resolved":
            return None, Change.STALE_RESOLVE
        member = AlertMember(
            fingerprint=event.fingerprint,
            labels=dict(event.labels),
            annotations=dict(event.annotations),
            first_ns=event.starts_ns,
            last_ns=event.event_ns,
            status="firing",
            refs=[event.ref],
            severity=alert_severity(event.labels),
            title=event.labels.get("alertname", event.fingerprint),
            starts_ns=event.starts_ns,
        )
        return member, Change.NEW
    member.count += 1
    member.last_ns = max(member.last_ns, event.event_ns)
    if len(member.refs) < MAX_REFS:
        member.refs.append(event.ref)
    if event.status == member.status:
        return member, Change.REPEAT
    member.status = event.status
    if event.status == "resolved":
        member.resolved_ns = event.event_ns
        return member, Change.RESOLVED
    member.flaps += 1
    member.starts_ns = max(member.starts_ns, event.starts_ns)
    member.resolved_ns = None
    member.expired = False
    return member, Change.REFIRED
