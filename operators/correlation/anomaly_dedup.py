"""Anomaly records as incident members: one member per series, however many samples fire.

The scorer emits an anomaly record per anomalous sample. For correlation, the
consecutive anomalies of one series are one member (first and last seen, count,
strongest score) keyed by the series, the way an Alertmanager fingerprint keys
an alert's re-sends. A member has no "resolved" message: it resolves once its
series has stayed quiet for the hold time (see ``IncidentGrouper``).
"""

import math
from dataclasses import dataclass

from alertflow.operators.correlation.alert_dedup import (
    SEVERITY_RANK,
    AlertMember,
    Change,
    evidence_change,
)
from alertflow.operators.decisions import Decision
from alertflow.schemas.timefmt import NS_PER_S, parse_rfc3339_ns

ANOMALY_PREFIX = "anomaly:"  # member fingerprints of series, apart from Alertmanager's


@dataclass(slots=True, frozen=True)
class AnomalySignal:
    """One anomaly record on its way to correlation."""

    series: str
    name: str
    labels: dict[str, str]
    ts_ns: int
    value: float
    expected: float
    score: float
    severity: str
    detectors: tuple[str, ...]
    interval_ns: int = 0  # since the series' previous sample; 0 when unknown
    ref: str = ""
    read_ns: int = 0
    shift: float | None = None  # signed spreads from the series' own last hour (series_shift)
    onset_ns: int | None = None  # when the series' current move began

    @property
    def fingerprint(self) -> str:
        """The member key: the series."""
        return ANOMALY_PREFIX + self.series


def signal_of(decision: Decision) -> AnomalySignal:
    """The correlation view of an ``anomalies`` decision."""
    field = decision.field
    return AnomalySignal(
        series=field("series"),
        name=field("name"),
        labels=field("labels"),
        ts_ns=parse_rfc3339_ns(field("ts")),
        value=field("value"),
        expected=field("expected"),
        score=field("score"),
        severity=field("severity"),
        detectors=tuple(field("detectors") or ()),
        interval_ns=round((field("interval_s") or 0.0) * NS_PER_S),
        ref=decision.inputs[0] if decision.inputs else "",
        read_ns=decision.read_ns,
        shift=field("shift"),
        onset_ns=None if field("onset") is None else parse_rfc3339_ns(field("onset")),
    )


def describe(signal: AnomalySignal) -> str:
    """A short human line: which way the value went and how far from the expectation."""
    direction = "above" if signal.value >= signal.expected else "below"
    return (
        f"{signal.name} {signal.value:.4g} {direction} expected {signal.expected:.4g} "
        f"(score {signal.score:.2f})"
    )


def relative_change(signal: AnomalySignal) -> float:
    """How far the value is from the expected one, as a fraction of it (inf from 0)."""
    delta = abs(signal.value - signal.expected)
    if signal.expected == 0:
        return math.inf if delta else 0.0
    return delta / abs(signal.expected)


def _magnitude(shift: float | None) -> float | None:
    return None if shift is None or math.isnan(shift) else abs(shift)


def apply_anomaly(member: AlertMember | None, signal: AnomalySignal) -> tuple[AlertMember, Change]:
    """Fold one anomaly into its series' member, returning the member and what changed."""
    if member is None:
        member = AlertMember(
            fingerprint=signal.fingerprint,
            labels=dict(signal.labels),
            annotations={"description": describe(signal)},
            first_ns=signal.ts_ns,
            last_ns=signal.ts_ns,
            status="firing",
            refs=[signal.ref],
            kind="anomaly",
            severity=signal.severity,
            score=signal.score,
            title=signal.name,
            delta=abs(signal.value - signal.expected),
            change=relative_change(signal),
            interval_ns=signal.interval_ns,
            shift=_magnitude(signal.shift),
            onset_ns=signal.ts_ns
            if signal.onset_ns is None
            else min(signal.onset_ns, signal.ts_ns),
        )
        return member, Change.NEW
    member.count += 1
    member.last_ns = max(member.last_ns, signal.ts_ns)
    member.delta = max(member.delta, abs(signal.value - signal.expected))
    member.change = max(member.change, relative_change(signal))
    member.interval_ns = max(member.interval_ns, signal.interval_ns)
    shift = _magnitude(signal.shift)
    if shift is not None:
        member.shift = shift if member.shift is None else max(member.shift, shift)
    if signal.onset_ns is not None:
        member.onset_ns = min(member.onset_ns, signal.onset_ns)
    stronger = SEVERITY_RANK[signal.severity] > SEVERITY_RANK[member.severity]
    if signal.score > member.score:
        member.score = signal.score
        member.severity = signal.severity
        member.annotations["description"] = describe(signal)
    return member, evidence_change(member, stronger)
