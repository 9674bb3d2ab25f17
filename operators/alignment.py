"""Alerts wait, briefly, for the traces of their moment: topology before grouping.

Live, spans describing a call graph arrive long before the alerts they explain.
Replayed from files, the two inputs are read independently, so an alert can reach
the correlator before the spans of its time have taught it the graph. When traces
are an input, an alert is held until the domain's span watermark passes its event
time, or ``hold_ns`` of wall time passes (traces late or absent), or the input ends.
"""

from dataclasses import dataclass, field

from alertflow.operators.eventclock import EventClock
from alertflow.schemas.records import AlertEvent, SpanEvent


@dataclass(slots=True)
class SpanAlignment:
    """Alerts held in arrival order until the spans have caught up with them.

    >>> align = SpanAlignment(hold_ns=10, lateness_ns=0)
    >>> from alertflow.schemas.records import AlertEvent, SpanEvent
    >>> a = AlertEvent("f", "firing", {}, {}, 100, None)
    >>> align.add_alert(a, wall_ns=0)
    []
    >>> [e.fingerprint for e in align.add_spans([SpanEvent("t", "s", "", "x", "op", "server",
    ...                                                     150, 151, False)], wall_ns=1)]
    ['f']
    """

    hold_ns: int
    lateness_ns: int
    pending: list[tuple[int, AlertEvent]] = field(default_factory=list)  # (arrival wall, alert)
    spans: EventClock | None = None

    def add_alert(self, event: AlertEvent, wall_ns: int) -> list[AlertEvent]:
        """Hold an alert; return whatever is now free to go, in arrival order."""
        self.pending.append((wall_ns, event))
        return self.release(wall_ns)

    def add_spans(self, spans: list[SpanEvent], wall_ns: int) -> list[AlertEvent]:
        """Advance the span watermark; return the alerts it frees."""
        if self.spans is None:
            self.spans = EventClock(self.lateness_ns)
        for span in spans:
            self.spans.observe(span.start_ns, wall_ns)
        return self.release(wall_ns)

    def release(self, wall_ns: int, everything: bool = False) -> list[AlertEvent]:
        """Alerts the spans have caught up with, or that waited ``hold_ns``."""
        watermark = self.spans.max_event_ns - self.lateness_ns if self.spans else None
        out, kept = [], []
        for arrived, event in self.pending:
            due = everything or arrived + self.hold_ns <= wall_ns
            if due or (watermark is not None and event.event_ns <= watermark):
                out.append(event)
            else:
                kept.append((arrived, event))
        self.pending = kept
        return out

    def next_release_wall(self) -> int | None:
        """When the oldest held alert stops waiting."""
        return self.pending[0][0] + self.hold_ns if self.pending else None
