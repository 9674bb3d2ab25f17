"""Trace context from message headers: whatever a producer sent, the flow never fails on it."""

from alertflow.operators.trace_context import (
    MessageTracer,
    SpanRegistry,
    extract_context,
    traceparent_of,
)
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, get_current_span

header_values = st.one_of(
    st.none(),
    st.binary(max_size=80),
    st.text(max_size=80),
    st.from_regex(r"\A[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\Z").map(str.encode),
)
headers = st.one_of(
    st.none(),
    st.lists(st.tuples(st.sampled_from(["traceparent", "tracestate", "TraceParent", "x"]), header_values), max_size=4),
)


@given(headers)
def test_any_headers_give_a_valid_context_or_none(value):
    context = extract_context(value)
    if context is not None:
        span_context = get_current_span(context).get_span_context()
        assert span_context.is_valid and span_context.is_remote


@given(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1), st.sampled_from([0, 1]))
def test_traceparent_round_trips(trace_id, span_id, flags):
    header = f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"
    context = get_current_span(extract_context([("traceparent", header.encode())])).get_span_context()
    assert (context.trace_id, context.span_id, int(context.trace_flags)) == (trace_id, span_id, flags)
    assert traceparent_of(context) == header


class _Message:
    def __init__(self, offset, headers):
        self._offset, self._headers = offset, headers

    def topic(self):
        return "alerts"

    def partition(self):
        return 3

    def offset(self):
        return self._offset

    def key(self):
        return b"\xffkey"

    def headers(self):
        return self._headers


@given(st.lists(headers, min_size=1, max_size=5))
def test_every_message_gets_a_consumer_span_whatever_its_headers(all_headers):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = SpanRegistry()
    poll = [_Message(i, h) for i, h in enumerate(all_headers)]
    assert MessageTracer(provider.get_tracer("t"), registry, "alerts").trace_polls(poll) is poll
    # A producer that did not sample its trace (flags 00) is obeyed: no span recorded.
    sampled = [m for m in poll if _sampled(extract_context(m.headers()))]
    spans = exporter.get_finished_spans()
    assert [s.attributes["messaging.kafka.offset"] for s in spans] == [m.offset() for m in sampled]
    for span, message in zip(spans, sampled, strict=True):
        assert span.kind == SpanKind.CONSUMER and span.name == "process alerts"
        assert registry.get(f"alerts/3@{message.offset()}") == span.context
        parent = extract_context(message.headers())
        if parent is None:
            assert span.parent is None
        else:
            assert span.parent.span_id == get_current_span(parent).get_span_context().span_id
    assert all(registry.get(f"alerts/3@{m.offset()}") is not None for m in poll)


def _sampled(context):
    return context is None or get_current_span(context).get_span_context().trace_flags.sampled
