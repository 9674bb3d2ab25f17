"""Predicted incidents: a confident breach prediction opens one before anything fires.

It lives beside a correlation domain's grouper and sees the same event-time-ordered
signals. Alerts and anomalies of the predicted series' service (or of the series
itself) that follow join it as members; it closes as ``happened`` when the breach
comes, as ``averted`` when the prediction is withdrawn or its breach time passes
(with a grace of ``grace_s``) without one.
"""

from dataclasses import dataclass, field

from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.decisions import Decision
from alertflow.operators.ids import stable_id
from alertflow.operators.prediction.breach import PredictionSignal
from alertflow.schemas.outputs import Incident, IncidentMember, RootCause
from alertflow.schemas.records import AlertEvent
from alertflow.schemas.timefmt import NS_PER_S, format_ns

_MAX_MEMBERS = 50  # a predicted incident lists what followed, up to this many


@dataclass(slots=True)
class _Member:
    kind: str
    id: str
    first_ns: int
    last_ns: int
    labels: dict[str, str]
    count: int = 1


@dataclass(slots=True)
class _Predicted:
    incident_id: str
    signal: PredictionSignal
    opened_ns: int
    updated_ns: int
    version: int = 0
    members: dict[str, _Member] = field(default_factory=dict)


def _service(labels: dict[str, str]) -> str | None:
    return labels.get("service") or labels.get("job")


class PredictedIncidents:
    """The open predicted incidents of one domain, fed in event-time order.

    >>> p = PredictedIncidents("prod")
    >>> s = PredictionSignal("predicted", "d{}", "d", {"service": "db"}, 0, "d > 1", 0.9, 60, "p1")
    >>> [d.record.status for d in p.on_signal(s)]
    ['open']
    >>> [d.record.outcome for d in p.on_signal(PredictionSignal(
    ...     "breached", "d{}", "d", {"service": "db"}, 50, "d > 1", 1.0, 50, "p1"))]
    ['happened']
    """

    def __init__(self, domain: str, grace_s: float = 3600.0) -> None:
        self.domain = domain
        self.grace_ns = int(grace_s * NS_PER_S)
        self.open: dict[str, _Predicted] = {}

    def on_signal(self, signal: PredictionSignal) -> list[Decision]:
        """Open, update or close the predicted incident of the signal's series and threshold."""
        out = self.advance(signal.ts_ns)
        state = self.open.get(signal.fingerprint)
        if signal.kind == "predicted":
            if state is None:
                state = _Predicted(
                    stable_id("predicted", self.domain, signal.fingerprint, signal.ts_ns),
                    signal,
                    signal.ts_ns,
                    signal.ts_ns,
                )
                self.open[signal.fingerprint] = state
                return [*out, self._emit(state, "open", None)]
            state.signal = signal  # the latest breach time and confidence, quietly
            return out
        if state is None:
            return out
        del self.open[signal.fingerprint]
        state.updated_ns = signal.ts_ns
        outcome = "happened" if signal.kind == "breached" else "averted"
        return [*out, self._emit(state, "resolved", outcome)]

    def observe(self, event: AlertEvent | AnomalySignal) -> list[Decision]:
        """Join an alert or anomaly of a predicted series or service to its predicted incident."""
        if not self.open:
            return []
        ts = event.ts_ns if isinstance(event, AnomalySignal) else event.event_ns
        out = self.advance(ts)
        service = _service(event.labels)
        for state in self.open.values():
            same_series = isinstance(event, AnomalySignal) and event.series == state.signal.series
            if not same_series and (service is None or service != _service(state.signal.labels)):
                continue
            kind = "anomaly" if isinstance(event, AnomalySignal) else "alert"
            member = state.members.get(event.fingerprint)
            if member is None:
                if len(state.members) >= _MAX_MEMBERS:
                    continue
                state.members[event.fingerprint] = _Member(kind, event.fingerprint, ts, ts,
                                                           dict(event.labels))
            else:
                member.last_ns = max(member.last_ns, ts)
                member.count += 1
                continue  # a repeat changes no version
            state.updated_ns = max(state.updated_ns, ts)
            out.append(self._emit(state, "updated", None))
        return out

    def advance(self, watermark_ns: int) -> list[Decision]:
        """Close as averted what is past its predicted breach time plus the grace."""
        out = []
        for fingerprint, state in list(self.open.items()):
            due = state.signal.breach_ns
            if due is not None and watermark_ns > due + self.grace_ns:
                del self.open[fingerprint]
                state.updated_ns = due + self.grace_ns
                out.append(self._emit(state, "resolved", "averted"))
        return out

    def _emit(self, state: _Predicted, status: str, outcome: str | None) -> Decision:
        state.version += 1
        sig = state.signal
        service = _service(sig.labels)
        pred_member = IncidentMember(
            kind="prediction",
            id=sig.prediction_id,
            ts=format_ns(state.opened_ns),
            last_seen=format_ns(sig.ts_ns),
            count=1,
            status="resolved" if status == "resolved" else "firing",
            service=service,
            labels=sig.labels,
        )
        members = [pred_member] + [
            IncidentMember(
                kind=m.kind, id=m.id, ts=format_ns(m.first_ns), last_seen=format_ns(m.last_ns),
                count=m.count, status="firing", service=_service(m.labels), labels=m.labels,
            )
            for m in state.members.values()
        ]  # fmt: skip
        when = format_ns(sig.breach_ns) if sig.breach_ns is not None else "within the horizon"
        summary = f"Predicted: {sig.series} crosses {sig.threshold} at {when}"
        summary += f" (confidence {sig.confidence:.2f})"
        if outcome is not None:
            summary += f"; {outcome}"
        record = Incident(
            id=stable_id(state.incident_id, state.version),
            incident_id=state.incident_id,
            version=state.version,
            status=status,
            domain=self.domain,
            opened_at=format_ns(state.opened_ns),
            updated_at=format_ns(state.updated_ns),
            resolved_at=format_ns(state.updated_ns) if status == "resolved" else None,
            services=sorted({m.service for m in members if m.service}),
            members=members,
            # The series' own service is where the breach is foretold: the cause to look at.
            root_causes=[RootCause(service=service, score=round(sig.confidence, 6),
                                   evidence=[f"forecast of {sig.series} toward {sig.threshold}"])]
            if service
            else [],
            severity="warning",
            summary=summary,
            recommendations=list(sig.recommendations),
            outcome=outcome,
        )
        return Decision("incidents", state.incident_id, record)
