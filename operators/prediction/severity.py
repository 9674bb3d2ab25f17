"""Learning incident severity from operators' verdicts (River's adaptive random forest).

A verdict that carries ``severity`` labels its incident; the forest learns that label
from the incident's features as last seen. Until ``min_labelled`` incidents are labelled
it says nothing (the rules' severity stands); after that, a prediction at least
``min_confidence`` likely becomes the notification's ``learned_severity``, with why.
The same label on the same incident twice is learned once (a re-sent verdict is a no-op).
"""

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from river.forest import ARFClassifier

SEVERITIES = ("info", "warning", "critical")
Features = dict[str, float]


def incident_features(fields: Mapping[str, Any], members: Iterable[Any]) -> Features:
    """What the forest sees of an incident: breadth, age, its members by kind, its alerts.

    >>> m = [{"kind": "alert", "labels": {"alertname": "A", "severity": "critical"}},
    ...      {"kind": "anomaly", "labels": {}}]
    >>> f = incident_features({"services": ["a", "b"], "opened_at": "2026-01-01T00:00:00Z",
    ...     "updated_at": "2026-01-01T00:10:00Z", "severity": "warning"}, m)
    >>> f["breadth"], f["duration_s"], f["alerts"], f["anomalies"], f["critical_alerts"]
    (2.0, 600.0, 1.0, 1.0, 1.0)
    """
    counts = {"alert": 0, "anomaly": 0, "log": 0}
    alert_kinds, critical = set(), 0
    for member in members:
        kind, labels = _member(member)
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "alert":
            alert_kinds.add(labels.get("alertname", "?"))
            critical += labels.get("severity") == "critical"
    return {
        "breadth": float(len(fields.get("services") or ())),
        "duration_s": _seconds(fields.get("updated_at")) - _seconds(fields.get("opened_at")),
        "alerts": float(counts["alert"]),
        "anomalies": float(counts["anomaly"]),
        "logs": float(counts["log"]),
        "alert_kinds": float(len(alert_kinds)),
        "critical_alerts": float(critical),
        "rule_severity": float(SEVERITIES.index(fields.get("severity") or "info")),
    }


def _member(member: Any) -> tuple[str, Mapping[str, str]]:
    if isinstance(member, dict):
        return member["kind"], member.get("labels") or {}
    return member.kind, member.labels


def _seconds(ts: str | None) -> float:
    return datetime.fromisoformat(ts).timestamp() if ts else 0.0


@dataclass(frozen=True, slots=True)
class Judgement:
    """A confident learned severity and the reason given with it."""

    severity: str
    why: str


@dataclass
class SeverityClassifier:
    """An online forest over incident features; picklable, deterministic for a seed."""

    min_labelled: int = 20
    min_confidence: float = 0.7
    seed: int = 0
    max_incidents: int = 20_000
    features: OrderedDict[str, Features] = field(default_factory=OrderedDict)
    labels: OrderedDict[str, str] = field(default_factory=OrderedDict)
    model: ARFClassifier | None = None

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = ARFClassifier(n_models=10, seed=self.seed)

    def observe(self, incident_id: str, features: Features) -> None:
        """Remember an incident's latest features (bounded: the oldest are forgotten)."""
        self.features.pop(incident_id, None)
        self.features[incident_id] = features
        while len(self.features) > self.max_incidents:
            self.features.popitem(last=False)

    def learn(self, incident_id: str, severity: str | None) -> bool:
        """Learn a labelled incident; False when unknown, unlabelled or already so labelled."""
        if severity not in SEVERITIES or self.labels.get(incident_id) == severity:
            return False
        x = self.features.get(incident_id)
        if x is None:
            return False
        assert self.model is not None
        self.model.learn_one(x, severity)
        self.labels.pop(incident_id, None)
        self.labels[incident_id] = severity
        while len(self.labels) > self.max_incidents:
            self.labels.popitem(last=False)
        return True

    @property
    def ready(self) -> bool:
        """Whether enough incidents were labelled for the forest to speak."""
        return len(self.labels) >= self.min_labelled

    def judge(self, incident_id: str) -> Judgement | None:
        """The learned severity of a known incident when confident; None: the rules stand."""
        x = self.features.get(incident_id)
        if x is None or not self.ready:
            return None
        assert self.model is not None
        proba = self.model.predict_proba_one(x)
        if not proba:
            return None
        severity, p = max(proba.items(), key=lambda kv: (kv[1], kv[0]))
        if p < self.min_confidence:
            return None
        why = (
            f"severity model: {severity} (p={p:.2f}, {len(self.labels)} labelled incidents; "
            f"breadth {x['breadth']:g}, {x['critical_alerts']:g} critical alerts, "
            f"{x['alert_kinds']:g} alert kinds)"
        )
        return Judgement(str(severity), why)
