"""Trace context across the flow: a consumer span per Kafka message, continued from its headers.

OpenTelemetry's messaging conventions: each message read gets a ``process`` span
(kind CONSUMER) with ``messaging.system``, the topic, partition and offset; when
the producer put a W3C ``traceparent`` header on the message, the span continues
that trace. The span's context is remembered under the message's ref (and an
alert's under its fingerprint), so the decisions made from it, and the incidents
that take it as a member, can be parented on or linked to it
(:class:`~alertflow.operators.tracing.DecisionTracer`).
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Tracer,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = ("traceparent", "tracestate")


class SpanRegistry:
    """The latest span context per key (message ref, alert fingerprint, record id), bounded.

    Workers of one process share it; processes do not, so a decision made in another
    process than its input was read in starts its own trace (it still names its inputs).

    >>> registry = SpanRegistry(max_entries=2)
    >>> for key in "abc":
    ...     registry.put(key, key.upper())
    >>> registry.get("a"), registry.get("c")
    (None, 'C')
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, context: Any) -> None:
        """Remember ``context`` under ``key``; the oldest key goes past the bound."""
        with self._lock:
            self._entries[key] = context
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get(self, key: str) -> Any:
        """The context under ``key``, or None."""
        return self._entries.get(key)


def extract_context(headers: Iterable[tuple[str, bytes | str | None]] | None) -> Context | None:
    """The W3C trace context a producer put in a message's headers, or None.

    >>> ctx = extract_context([("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")])
    >>> format(get_current_span(ctx).get_span_context().span_id, "016x")
    '2222222222222222'
    >>> extract_context([("traceparent", b"garbage")]) is None
    True
    """
    if not headers:
        return None
    carrier: dict[str, str] = {}
    for key, value in headers:
        if key.lower() in _TRACE_HEADERS and value is not None:
            if isinstance(value, bytes):
                value = value.decode("latin-1")  # W3C trace context is ASCII; never fails
            carrier[key.lower()] = value
    if "traceparent" not in carrier:
        return None
    context = _PROPAGATOR.extract(carrier)
    return context if get_current_span(context).get_span_context().is_valid else None


def member_key(kind: str, member_id: str) -> str:
    """The registry key of an incident member's span (an alert's fingerprint, ...)."""
    return f"member:{kind}:{member_id}"


def traceparent_of(context: SpanContext) -> str:
    """The W3C ``traceparent`` header value of a span context.

    >>> from opentelemetry.trace import TraceFlags
    >>> traceparent_of(SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(1)))
    '00-00000000000000000000000000000001-0000000000000002-01'
    """
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


class MessageTracer:
    """Records the consumer span of each Kafka message of a poll, continued from its headers."""

    def __init__(self, tracer: Tracer, registry: SpanRegistry, stream: str) -> None:
        self.tracer = tracer
        self.registry = registry
        self.stream = stream

    def trace_polls(self, poll: list) -> list:
        """An ``op.map`` over a source's polls: a span per message, the poll passed on."""
        for message in poll:
            headers = getattr(message, "headers", None)
            if headers is None:  # a line of a file: no broker, no producer context
                continue
            self._process_span(message, extract_context(headers()))
        return poll

    def _process_span(self, message: Any, parent: Context | None) -> None:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            "alertflow.input_stream": self.stream,
        }
        key = message.key()
        if key:
            attributes["messaging.kafka.message.key"] = key.decode("utf-8", "replace")
        # Links too, so a UI that shows the producer's trace apart still finds this span.
        links = [] if parent is None else [Link(_span_context(parent))]
        span = self.tracer.start_span(
            f"process {topic}", context=parent, kind=SpanKind.CONSUMER,
            attributes=attributes, links=links,
        )  # fmt: skip
        span.end()
        self.registry.put(f"{topic}/{partition}@{offset}", span.get_span_context())

    def remember_alerts(self, alerts: list) -> list:
        """An ``op.map`` over decoded alerts: each fingerprint points at its message's span."""
        for alert in alerts:
            context = self.registry.get(getattr(alert, "ref", ""))
            if context is not None:
                self.registry.put(member_key("alert", alert.fingerprint), context)
        return alerts


def _span_context(context: Context) -> SpanContext:
    return get_current_span(context).get_span_context()


def parent_context(span_context: SpanContext | None) -> Context | None:
    """A context whose current span is ``span_context``, to start a child span in."""
    if span_context is None:
        return None
    return set_span_in_context(NonRecordingSpan(span_context))
