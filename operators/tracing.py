"""OpenTelemetry spans for decisions, so an operator can follow alert → incident → notification.

Each decision gets one span that starts when its newest input was read and ends
when the decision is handed to the outputs. Its attributes name the output record
and list the input messages behind it (``alertflow.inputs``). With a
:class:`~alertflow.operators.trace_context.SpanRegistry` the span joins the story:

- its parent is the consumer span of its first input message (which continues the
  producer's trace when the message carried ``traceparent``); a notification's
  parent is the span of the incident version it announces, and an incident version
  without inputs (resolved by a timer) continues from the version before;
- it links to its other inputs' spans and, for an incident, to the spans of its
  members (the anomalies' decision spans, the alerts' consumer spans);
- its context is set on the decision (``Decision.traceparent``) so the Kafka sink
  puts it in the produced message's headers, for whoever consumes next.

With Kafka output the span is a PRODUCER span named ``send <topic>`` with the
messaging attributes of OpenTelemetry's conventions; otherwise ``alertflow.<stream>``.
"""

import time
from typing import Any

from alertflow.operators.correlation.anomaly_dedup import ANOMALY_PREFIX
from alertflow.operators.decisions import Decision
from alertflow.operators.score_block import expand
from alertflow.operators.trace_context import (
    SpanRegistry,
    member_key,
    parent_context,
    traceparent_of,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, Tracer

_TRACED_FIELDS = ("score", "severity", "status", "series", "incident_id", "version", "reason")
_MAX_LINKS = 100  # the SDK keeps 128 by default; an alert storm's incident stays readable


class DecisionTracer:
    """Records a span per decision on the given tracer."""

    def __init__(
        self,
        tracer: Tracer,
        registry: SpanRegistry | None = None,
        topic_prefix: str | None = None,
    ) -> None:
        self.tracer = tracer
        self.registry = registry or SpanRegistry()
        self.topic_prefix = topic_prefix  # set when the outputs are Kafka topics

    def trace(self, decision: Decision) -> Decision:
        """Record the span, set the decision's traceparent, pass the decision on."""
        start = decision.read_ns or time.time_ns()
        parent, links = self._relatives(decision)
        name, kind, attributes = self._naming(decision)
        span = self.tracer.start_span(
            name, context=parent_context(parent), kind=kind, start_time=start,
            links=[Link(c) for c in links[:_MAX_LINKS]], attributes=attributes,
        )  # fmt: skip
        span.set_attribute("alertflow.inputs", list(decision.inputs))
        for field in _TRACED_FIELDS:
            value = decision.field(field)
            if isinstance(value, str | int | float):
                span.set_attribute(f"alertflow.{field}", value)
        span.end()
        context = span.get_span_context()
        if context.is_valid:
            decision.traceparent = traceparent_of(context)
            self._remember(decision, context)
        return decision

    def trace_all(self, decisions: list) -> list[Decision]:
        """Record a span for each decision of a batch (a block's records become decisions)."""
        decisions = expand(decisions)
        for decision in decisions:
            self.trace(decision)
        return decisions

    def _naming(self, decision: Decision) -> tuple[str, SpanKind, dict[str, Any]]:
        attributes: dict[str, Any] = {
            "alertflow.stream": decision.stream,
            "alertflow.key": decision.key,
            "alertflow.record_id": decision.field("id") or "",
        }
        if self.topic_prefix is None:
            return f"alertflow.{decision.stream}", SpanKind.INTERNAL, attributes
        topic = self.topic_prefix + decision.stream
        attributes.update(
            {
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.operation.name": "send",
                "messaging.destination.name": topic,
                "messaging.kafka.message.key": decision.key,
            }
        )
        return f"send {topic}", SpanKind.PRODUCER, attributes

    def _relatives(self, decision: Decision) -> tuple[SpanContext | None, list[SpanContext]]:
        """The parent span and the linked spans of a decision, from what the registry holds."""
        get = self.registry.get
        found = [c for c in (get(ref) for ref in decision.inputs) if c is not None]
        parent = found[0] if found else None
        if decision.stream == "notifications":
            parent = get(f"incident:{decision.key}") or parent
        links = found[1:]
        if decision.stream == "incidents":
            # A version made by a timer (resolved after the quiet period) has no input:
            # it continues its incident's story from the version before.
            previous = get(f"incident:{decision.key}")
            if parent is None:
                parent = previous
            elif previous is not None:
                links.append(previous)
            for member in decision.field("members") or ():
                context = get(member_key(*_member(member)))
                if context is not None and context != parent and context not in links:
                    links.append(context)
        return parent, links

    def _remember(self, decision: Decision, context: SpanContext) -> None:
        if decision.stream == "anomalies":
            # The incident names it as member "anomaly:<series>": its latest anomaly's span.
            # By the decision's key, the series key itself: output redaction may have scrubbed
            # the record's copy of it, but never the member ids the incident names.
            member_id = ANOMALY_PREFIX + decision.key
            self.registry.put(member_key("anomaly", member_id), context)
        elif decision.stream == "incidents":
            self.registry.put(f"incident:{decision.key}", context)


def _member(member: Any) -> tuple[str, str]:
    if isinstance(member, dict):
        return member.get("kind", ""), member.get("id", "")
    return getattr(member, "kind", ""), getattr(member, "id", "")
