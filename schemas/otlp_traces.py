"""OTLP JSON traces (``ExportTraceServiceRequest``): one :class:`SpanEvent` per span.

Span kinds and status codes may be numbers or the protobuf enum names
(``"SPAN_KIND_SERVER"``, ``"STATUS_CODE_ERROR"``); ids are hex.
"""

from typing import Any

from alertflow.schemas import jsoncodec
from alertflow.schemas._fields import require_str
from alertflow.schemas._otlp import (
    attributes,
    hex_id,
    int64,
    optional_object,
    record_attributes,
    service_of,
    unix_nano,
    walk,
)
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import SpanEvent

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS_CODES = ("unset", "ok", "error")
_STATUS_ERROR = 2


def decode_otlp_traces(raw: bytes, ref: str = "") -> list[SpanEvent]:
    """Decode one OTLP JSON traces message.

    >>> body = (b'{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name",'
    ...         b'"value":{"stringValue":"api"}}]},"scopeSpans":[{"spans":[{'
    ...         b'"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
    ...         b'"name":"GET /cart","kind":2,"startTimeUnixNano":"1795600800000000000",'
    ...         b'"endTimeUnixNano":"1795600800120000000","status":{"code":2}}]}]}]}')
    >>> [(s.service, s.kind, s.is_error, s.end_ns - s.start_ns) for s in decode_otlp_traces(body)]
    [('api', 'server', True, 120000000)]
    """
    return spans_from_otlp(jsoncodec.loads(raw), ref)


def spans_from_otlp(doc: Any, ref: str = "") -> list[SpanEvent]:
    """Turn an already-parsed OTLP JSON traces document into span events."""
    return [
        _span(resource_attrs, span, f"OTLP span {i}", ref)
        for i, (resource_attrs, span) in enumerate(walk(doc, "Spans", "spans"))
    ]


def _span(resource_attrs: dict[str, str], span: dict[str, Any], what: str, ref: str) -> SpanEvent:
    start_ns = unix_nano(span, "startTimeUnixNano", what)
    end_ns = unix_nano(span, "endTimeUnixNano", what)
    for key, value in (("startTimeUnixNano", start_ns), ("endTimeUnixNano", end_ns)):
        if value == 0:
            raise DecodeError(f"{what}: field {key!r} is required")
    if end_ns < start_ns:
        raise DecodeError(f"{what}: 'endTimeUnixNano' must not be before 'startTimeUnixNano'")
    status = optional_object(span, "status", what)
    code = _enum(status.get("code", 0), "STATUS_CODE_", _STATUS_CODES, f"{what}.status.code")
    kind = _enum(span.get("kind", 0), "SPAN_KIND_", SPAN_KINDS, f"{what}.kind")
    own = attributes(span.get("attributes"), f"{what}.attributes")
    return SpanEvent(
        trace_id=hex_id(span, "traceId", what, 16, required=True),
        span_id=hex_id(span, "spanId", what, 8, required=True),
        parent_span_id=hex_id(span, "parentSpanId", what, 8, required=False),
        service=service_of(resource_attrs),
        name=require_str(span, "name", what),
        kind=SPAN_KINDS[kind],
        start_ns=start_ns,
        end_ns=end_ns,
        is_error=code == _STATUS_ERROR,
        attributes=record_attributes(resource_attrs, own),
        ref=ref,
    )


def _enum(value: Any, prefix: str, names: tuple[str, ...], what: str) -> int:
    """Read a protobuf enum given as its number or its name (``prefix`` + upper-case name)."""
    if isinstance(value, str) and value.startswith(prefix):
        name = value.removeprefix(prefix).lower()
        if name in names:
            return names.index(name)
        raise DecodeError(f"{what}: unknown value {value!r:.40}; expected {prefix}*")
    number = int64(value, what)
    if not 0 <= number < len(names):
        raise DecodeError(f"{what}: {number} is not one of 0..{len(names) - 1}")
    return number
