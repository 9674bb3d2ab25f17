"""OpenTelemetry spans for decisions, so an operator can see why something fired.

Each decision gets one span that starts when its newest input was read and
ends when the decision is handed to the outputs. Its attributes name the
output record and list the input messages behind it (``alertflow.inputs``).
"""

import time

from alertflow.operators.decisions import Decision
from opentelemetry.trace import Tracer

_TRACED_FIELDS = ("score", "severity", "status", "series", "incident_id", "version", "reason")


class DecisionTracer:
    """Records a span per decision on the given tracer."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def trace(self, decision: Decision) -> Decision:
        """Record the span and pass the decision on unchanged."""
        start = decision.read_ns or time.time_ns()
        span = self.tracer.start_span(f"alertflow.{decision.stream}", start_time=start)
        span.set_attribute("alertflow.stream", decision.stream)
        span.set_attribute("alertflow.key", decision.key)
        span.set_attribute("alertflow.record_id", decision.field("id") or "")
        span.set_attribute("alertflow.inputs", list(decision.inputs))
        for name in _TRACED_FIELDS:
            value = decision.field(name)
            if isinstance(value, str | int | float):
                span.set_attribute(f"alertflow.{name}", value)
        span.end()
        return decision

    def trace_all(self, decisions: list[Decision]) -> list[Decision]:
        """Record a span for each decision of a batch."""
        for decision in decisions:
            self.trace(decision)
        return decisions
