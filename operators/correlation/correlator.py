"""One correlation domain: span alignment, event-time order, then grouping into incidents.

The stages, in order:

1. spans teach the domain's call graph at once;
2. with traces among the inputs, an alert waits (bounded) for the spans of its
   moment (:class:`~operators.alignment.SpanAlignment`);
3. alerts and anomalies wait for the domain's watermark and are applied in
   event-time order (:class:`~operators.correlation.reorder.EventTimeOrder`), so the incidents
   do not depend on how the inputs interleaved within the lateness bound;
4. the :class:`~operators.correlation.incidents.IncidentGrouper` folds them into incidents;
   scoring's closed level buckets (``LevelSignal``) go, in the same order, into the
   grouper's :class:`~operators.correlation.rank_levels.LevelBook`, which ranking reads.
   In order, not as they come: a replay holds every alert to its end (lateness), and a
   book fed ahead of them would have forgotten each incident's hour before.
"""

from dataclasses import replace

from alertflow.operators.alignment import SpanAlignment
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.correlation.incidents import IncidentGrouper, IncidentSettings
from alertflow.operators.correlation.rank_levels import LevelBook, LevelSignal
from alertflow.operators.correlation.reorder import EventTimeOrder
from alertflow.operators.decisions import Decision
from alertflow.operators.log_patterns import LogSignal
from alertflow.operators.prediction.breach import PredictionSignal
from alertflow.operators.prediction.predicted_incidents import PredictedIncidents
from alertflow.operators.span_faults import (
    SpanFaultFinder,
    SpanFaultSettings,
    SpanSignal,
    signals_of,
)
from alertflow.schemas.records import AlertEvent, SpanEvent

# What the grouper (and the predicted incidents) are fed, in event-time order.
Signal = AlertEvent | AnomalySignal | LogSignal | SpanSignal | PredictionSignal | LevelSignal
CorrelationEvent = Signal | SpanEvent
# Tuples, not ``A | B``: isinstance against a union built per call cost ~3% of an alert (issue 10).
_TIMED = (AnomalySignal, PredictionSignal, LevelSignal)
_SPANNING = (LogSignal, SpanSignal)


def order_key(event: Signal) -> tuple[int, tuple[str, int]]:
    """Event time, then a tie-break that does not depend on arrival: fingerprint, firing first."""
    if isinstance(event, _TIMED):
        return event.ts_ns, (event.fingerprint, 0)
    if isinstance(event, _SPANNING):
        return event.last_ns, (event.fingerprint, 0)
    return event.event_ns, (event.fingerprint, 0 if event.status == "firing" else 1)


class DomainCorrelator:
    """The correlation state of one domain, fed events and wall time by its engine shell.

    The grouper behind the order buffer runs with no lateness of its own: what it
    receives is already in order up to the buffer's watermark.
    """

    def __init__(
        self,
        domain: str,
        settings: IncidentSettings,
        trace_wait_s: float | None = None,
        static_edges: list[tuple[str, str]] | None = None,
        span_faults: SpanFaultSettings | None = None,
    ) -> None:
        lateness_ns = int(settings.lateness_s * 1e9)
        self.grouper = IncidentGrouper(domain, replace(settings, lateness_s=0.0))
        self.predicted = PredictedIncidents(domain)  # issue 14: kept apart from the grouper
        if static_edges:
            self.grouper.graph.add_static(static_edges)
        self.order: EventTimeOrder[Signal] = EventTimeOrder(lateness_ns)
        self.alignment = (
            SpanAlignment(int(trace_wait_s * 1e9), lateness_ns)
            if trace_wait_s is not None
            else None
        )
        # Each trace's deepest failing span, evidence for ranking (operators.span_faults).
        self.span_faults = SpanFaultFinder(span_faults) if span_faults is not None else None

    def on_events(self, events: list[CorrelationEvent], wall_ns: int) -> list[Decision]:
        """Fold a batch in, in arrival order; return the decisions now due."""
        out: list[Decision] = []
        spans: list[SpanEvent] = []
        for event in events:
            if isinstance(event, SpanEvent):
                spans.append(event)
                continue
            if spans:
                out.extend(self._spans(spans, wall_ns))
                spans = []
            if isinstance(event, AlertEvent) and self.alignment is not None:
                out.extend(self._ordered(self.alignment.add_alert(event, wall_ns), wall_ns))
            else:
                out.extend(self._ordered([event], wall_ns))
        if spans:
            out.extend(self._spans(spans, wall_ns))
        return out

    def on_tick(self, wall_ns: int) -> list[Decision]:
        """Release what waited long enough; close what the watermark allows."""
        held = self.alignment.release(wall_ns) if self.alignment is not None else []
        out = self._ordered(held, wall_ns)
        out.extend(self._apply(self.order.release(wall_ns), wall_ns))
        return out + self.grouper.on_tick(wall_ns)

    def finish(self, wall_ns: int) -> list[Decision]:
        """End of a bounded input: apply everything held, then close what can close."""
        held: list[Signal] = []
        held += self.alignment.release(wall_ns, everything=True) if self.alignment else []
        held += signals_of(self.span_faults.flush()) if self.span_faults is not None else []
        for event in held:
            self.order.add(*order_key(event), event, wall_ns)
        out = self._apply(self.order.release(wall_ns, everything=True), wall_ns)
        return out + self.grouper.flush()

    def next_wall(self) -> int | None:
        """The next wall time at which something held is due or an incident may close."""
        due = [self.grouper.next_deadline_wall(), self.order.next_release_wall()]
        if self.alignment is not None:
            due.append(self.alignment.next_release_wall())
        known = [d for d in due if d is not None]
        return min(known) if known else None

    def _spans(self, spans: list[SpanEvent], wall_ns: int) -> list[Decision]:
        self.grouper.on_spans(spans)
        out = []
        if self.span_faults is not None:
            out = self._ordered(signals_of(self.span_faults.add(spans)), wall_ns)
        if self.alignment is None:
            return out
        return out + self._ordered(self.alignment.add_spans(spans, wall_ns), wall_ns)

    def _ordered(self, events: list[Signal], wall_ns: int) -> list[Decision]:
        due: list[Signal] = []
        for event in events:
            due.extend(self.order.add(*order_key(event), event, wall_ns))
        return self._apply(due, wall_ns)

    def _apply(self, events: list[Signal], wall_ns: int) -> list[Decision]:
        out: list[Decision] = []
        for event in events:
            if isinstance(event, LevelSignal):
                self._level(event)
                continue
            if isinstance(event, PredictionSignal):
                out.extend(self.predicted.on_signal(event))
                continue
            if not isinstance(event, LogSignal):
                out.extend(self.predicted.observe(event))
            if isinstance(event, AnomalySignal):
                out.extend(self.grouper.on_anomaly(event, wall_ns))
            elif isinstance(event, LogSignal):
                out.extend(self.grouper.on_log(event, wall_ns))
            elif isinstance(event, SpanSignal):
                out.extend(self.grouper.on_span_fault(event, wall_ns))
            else:
                out.extend(self.grouper.on_alert(event, wall_ns))
        return out

    def _level(self, signal: LevelSignal) -> None:
        book = self.grouper.levels
        if book is None:  # the first bucket (or a snapshot from before books)
            book = self.grouper.levels = LevelBook(signal.bucket_s)
        book.add_signal(signal)
