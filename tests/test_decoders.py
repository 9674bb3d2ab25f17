"""Table-driven edge cases for every input decoder."""

import math
from typing import Any

import orjson
import pytest
from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import FeedbackEvent, LogEvent, MetricSample, SpanEvent

T0_S = 1_795_600_800  # 2026-11-25T10:00:00Z
T0_NS = T0_S * 1_000_000_000
TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def raw(doc: Any) -> bytes:
    return orjson.dumps(doc)


def decode(stream: str, doc: Any) -> list[Any]:
    return decode_stream(stream, doc if isinstance(doc, bytes) else raw(doc), "test")


def rejects(stream: str, doc: Any, fragment: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(stream, doc)
    assert fragment in info.value.reason, info.value.reason


def kv(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def resource(kind: str, leaf: str, objs: list[Any], attrs: list[Any] | None = None) -> dict:
    attrs = [kv("service.name", stringValue="api")] if attrs is None else attrs
    return {
        f"resource{kind}": [{"resource": {"attributes": attrs}, f"scope{kind}": [{leaf: objs}]}]
    }


# --------------------------------------------------------------------------- stream registry


@pytest.mark.parametrize("stream", ["metrics", "alerts", "logs", "traces", "feedback"])
@pytest.mark.parametrize("body", [b"", b"   ", None])
def test_empty_messages_are_rejected(stream: str, body: bytes | None) -> None:
    with pytest.raises(DecodeError, match="empty message"):
        decode_stream(stream, body)


def test_unknown_stream_is_rejected() -> None:
    with pytest.raises(DecodeError, match="unknown input stream"):
        decode_stream("events", b"{}")


@pytest.mark.parametrize("stream", ["metrics", "alerts", "logs", "traces", "feedback"])
def test_invalid_json_is_rejected(stream: str) -> None:
    rejects(stream, b"{not json", "not valid JSON")


# --------------------------------------------------------------------------- prometheus adapter


def prom(**overrides: Any) -> dict[str, Any]:
    doc = {"timestamp": "2026-11-25T10:00:00Z", "value": "1.5", "name": "up", "labels": {}}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


@pytest.mark.parametrize(
    ("timestamp", "ts_ns"),
    [
        (T0_S, T0_NS),  # epoch seconds
        (T0_S * 1000 + 250, T0_NS + 250_000_000),  # epoch milliseconds
        (T0_NS + 7, T0_NS + 7),  # epoch nanoseconds
        (str(T0_S * 1000), T0_NS),  # milliseconds as a string, as the adapter writes
        ("2026-11-25T11:00:00.000000001+01:00", T0_NS + 1),
    ],
)
def test_prometheus_timestamp_units(timestamp: Any, ts_ns: int) -> None:
    [sample] = decode("metrics", prom(timestamp=timestamp))
    assert sample.ts_ns == ts_ns


@pytest.mark.parametrize(
    ("value", "expected"), [("NaN", math.nan), ("+Inf", math.inf), (3, 3.0), ("-2e3", -2000.0)]
)
def test_prometheus_values(value: Any, expected: float) -> None:
    [sample] = decode("metrics", prom(value=value))
    assert sample.value == expected or (math.isnan(expected) and math.isnan(sample.value))


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (prom(name=...), "'name'"),
        (prom(name=""), "'name'"),
        (prom(timestamp=...), "'timestamp'"),
        (prom(value=...), "'value'"),
        (prom(value=True), "boolean"),
        (prom(value="fast"), "expected a number"),
        (prom(timestamp="yesterday"), "timestamp"),
        (prom(timestamp="2026-11-25T10:00:00"), "no UTC offset"),
        (prom(timestamp=0), "after 1970"),
        (prom(timestamp="2026-11-25T10:00:00.²Z"), "timestamp"),
        (prom(labels=["job"]), "labels"),
        (prom(labels={"job": {"a": 1}}), "'job'"),
        ([prom(), 3], "expected a JSON object"),
    ],
)
def test_prometheus_rejects(doc: Any, fragment: str) -> None:
    rejects("metrics", doc, fragment)


def test_prometheus_array_and_empty_array() -> None:
    assert len(decode("metrics", [prom(), prom(name="down")])) == 2
    assert decode("metrics", []) == []


# --------------------------------------------------------------------------- OTLP metrics


def otlp_metric(metric: dict[str, Any], attrs: list[Any] | None = None) -> dict[str, Any]:
    return resource("Metrics", "metrics", [metric], attrs)


def gauge(**point: Any) -> dict[str, Any]:
    point.setdefault("timeUnixNano", str(T0_NS))
    return otlp_metric({"name": "g", "gauge": {"dataPoints": [point]}})


@pytest.mark.parametrize(
    ("point", "value"),
    [
        ({"asDouble": 0.5}, 0.5),
        ({"asDouble": "NaN"}, math.nan),
        ({"asDouble": "Infinity"}, math.inf),
        ({"asInt": "-42"}, -42.0),
        ({"asInt": 42}, 42.0),
        ({"asDouble": 1.0, "flags": 1}, math.nan),  # no recorded value: stale marker
        ({"flags": 1}, math.nan),
    ],
)
def test_otlp_number_values(point: dict[str, Any], value: float) -> None:
    [sample] = decode("metrics", gauge(**point))
    assert sample.value == value or (math.isnan(value) and math.isnan(sample.value))


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (gauge(), "'asDouble' or 'asInt'"),
        (gauge(asInt="1.5"), "asInt"),
        (gauge(asInt="99999999999999999999"), "out of range"),
        (gauge(asDouble=True), "boolean"),
        (gauge(asDouble=[1]), "expected a number"),
        (gauge(asDouble=1, timeUnixNano=None), "'timeUnixNano'"),
        (gauge(asDouble=1, timeUnixNano="0"), "'timeUnixNano'"),
        (gauge(asDouble=1, timeUnixNano="-5"), "out of range"),
        (gauge(asDouble=1, timeUnixNano="soon"), "timeUnixNano"),
        (gauge(asDouble=1, attributes={"a": "b"}), "attributes"),
        (gauge(asDouble=1, attributes=[{"value": {"stringValue": "x"}}]), "'key'"),
        (gauge(asDouble=1, attributes=[kv("a", boolValue="yes")]), "boolValue"),
        (otlp_metric({"name": "g"}), "exactly one of"),
        (otlp_metric({"name": "g", "gauge": {}, "sum": {}}), "exactly one of"),
        (otlp_metric({"gauge": {"dataPoints": []}}), "'name'"),
        (otlp_metric({"name": "g", "gauge": []}), "expected a JSON object"),
        (otlp_metric({"name": "g", "gauge": {"dataPoints": {}}}), "must be an array"),
        ({"resourceMetrics": {}}, "must be an array"),
        ({"resourceMetrics": [{"resource": 0}]}, "resourceMetrics[0].resource"),
        ({"resourceMetrics": [{"scopeMetrics": [{"metrics": [7]}]}]}, "metrics[0]"),
    ],
)
def test_otlp_metrics_rejects(doc: Any, fragment: str) -> None:
    rejects("metrics", doc, fragment)


@pytest.mark.parametrize(
    "doc",
    [
        {"resourceMetrics": []},
        {"resourceMetrics": None},
        {"resourceMetrics": [{}]},
        {"resourceMetrics": [{"scopeMetrics": [{}]}]},
        otlp_metric({"name": "g", "gauge": {}}),
    ],
)
def test_otlp_metrics_empty_parts_give_no_samples(doc: Any) -> None:
    assert decode("metrics", doc) == []


def test_otlp_labels_merge_resource_and_point_attributes() -> None:
    attrs = [kv("service.name", stringValue="api"), kv("k8s.pod.name", stringValue="api-1")]
    point = {
        "timeUnixNano": str(T0_NS),
        "asInt": "1",
        "attributes": [kv("k8s.pod.name", stringValue="override"), kv("2xx", boolValue=True)],
    }
    doc = otlp_metric({"name": "http.requests", "sum": {"dataPoints": [point]}}, attrs)
    [sample] = decode("metrics", doc)
    assert sample == MetricSample(
        name="http_requests",
        labels={"service": "api", "k8s_pod_name": "override", "key_2xx": "true"},
        ts_ns=T0_NS,
        value=1.0,
        ref="test",
    )


def test_otlp_resource_without_service_name_has_no_service_label() -> None:
    doc = otlp_metric(
        {"name": "g", "gauge": {"dataPoints": [{"timeUnixNano": T0_NS, "asInt": 1}]}}, attrs=[]
    )
    assert decode("metrics", doc)[0].labels == {}


def histogram(**point: Any) -> dict[str, Any]:
    point.setdefault("timeUnixNano", str(T0_NS))
    return otlp_metric({"name": "lat", "histogram": {"dataPoints": [point]}})


def series(samples: list[MetricSample]) -> list[tuple[str, str | None, float]]:
    return [(s.name, s.labels.get("le"), s.value) for s in samples]


def test_histogram_without_buckets_has_only_the_inf_bucket() -> None:
    samples = decode("metrics", histogram(count="4"))
    assert series(samples) == [("lat_count", None, 4.0), ("lat_bucket", "+Inf", 4.0)]


def test_histogram_buckets_are_cumulative() -> None:
    doc = histogram(count=6, sum=3.5, bucketCounts=[1, "2", 3], explicitBounds=[1, 2.5])
    assert series(decode("metrics", doc)) == [
        ("lat_count", None, 6.0),
        ("lat_sum", None, 3.5),
        ("lat_bucket", "1", 1.0),
        ("lat_bucket", "2.5", 3.0),
        ("lat_bucket", "+Inf", 6.0),
    ]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (histogram(count=3, bucketCounts=[1, 2], explicitBounds=[1, 2]), "expected 3"),
        (histogram(count=3, bucketCounts=[1, 1, 1], explicitBounds=[2, 1]), "increasing"),
        (histogram(count=-1), "out of range"),
        (histogram(count=1, sum="lots"), "sum"),
        (histogram(count=1, bucketCounts="1,0"), "must be an array"),
    ],
)
def test_histogram_rejects(doc: Any, fragment: str) -> None:
    rejects("metrics", doc, fragment)


def test_summary_quantiles() -> None:
    point = {
        "timeUnixNano": str(T0_NS),
        "count": "10",
        "sum": 2.0,
        "quantileValues": [{"quantile": 0.5, "value": 0.1}, {"quantile": 0.99, "value": 0.9}],
    }
    samples = decode("metrics", otlp_metric({"name": "rpc", "summary": {"dataPoints": [point]}}))
    assert [(s.name, s.labels.get("quantile"), s.value) for s in samples] == [
        ("rpc_count", None, 10.0),
        ("rpc_sum", None, 2.0),
        ("rpc", "0.5", 0.1),
        ("rpc", "0.99", 0.9),
    ]


# --------------------------------------------------------------------------- logs


def line(**overrides: Any) -> dict[str, Any]:
    doc = {"timestamp": T0_S, "service": "cart", "level": "info", "message": "ok"}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (line(), LogEvent(T0_NS, "cart", "info", "ok", {}, "", "test")),
        (line(timestamp=T0_S * 1000), LogEvent(T0_NS, "cart", "info", "ok", {}, "", "test")),
        (line(timestamp=T0_NS), LogEvent(T0_NS, "cart", "info", "ok", {}, "", "test")),
        (
            line(timestamp="2026-11-25T10:00:00Z", level=...),
            LogEvent(T0_NS, "cart", "unspecified", "ok", {}, "", "test"),
        ),
        (
            line(level="CRITICAL", trace_id=TRACE.upper()),
            LogEvent(T0_NS, "cart", "fatal", "ok", {}, TRACE, "test"),
        ),
        (
            line(trace_id=None, pid=7, ok=True, x=None, nested={"a": {"b": 1}}, tags=[1]),
            LogEvent(
                T0_NS,
                "cart",
                "info",
                "ok",
                {"pid": "7", "ok": "true", "nested.a.b": "1", "tags": "[1]"},
                "",
                "test",
            ),
        ),
    ],
)
def test_plain_log_lines(doc: dict[str, Any], expected: LogEvent) -> None:
    assert decode("logs", doc) == [expected]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (line(timestamp=...), "'timestamp'"),
        (line(timestamp=None), "timestamp"),
        (line(timestamp=True), "boolean"),
        (line(timestamp=-1), "after 1970"),
        (line(timestamp="2026-13-01T00:00:00Z"), "timestamp"),
        (line(service=...), "'service'"),
        (line(service=3), "'service'"),
        (line(message=...), "'message'"),
        (line(message={"text": "x"}), "'message'"),
        (line(level=4), "'level'"),
        (line(trace_id=12), "'trace_id'"),
        ([line()], "expected a JSON object"),
        ("just text", "expected a JSON object"),
    ],
)
def test_plain_log_line_rejects(doc: Any, fragment: str) -> None:
    rejects("logs", doc, fragment)


def otlp_log(**record: Any) -> dict[str, Any]:
    return resource("Logs", "logRecords", [record])


@pytest.mark.parametrize(
    ("record", "level"),
    [
        ({"severityNumber": 9}, "info"),
        ({"severityNumber": 16, "severityText": "whatever"}, "warn"),
        ({"severityNumber": "SEVERITY_NUMBER_ERROR3"}, "error"),
        ({"severityNumber": 24}, "fatal"),
        ({"severityText": "Information"}, "info"),
        ({"severityNumber": 0, "severityText": "NOTICE"}, "info"),
        ({}, "unspecified"),
    ],
)
def test_otlp_log_levels(record: dict[str, Any], level: str) -> None:
    [event] = decode("logs", otlp_log(timeUnixNano=str(T0_NS), **record))
    assert event.level == level


def test_otlp_log_falls_back_to_observed_time_and_unknown_service() -> None:
    doc = resource("Logs", "logRecords", [{"observedTimeUnixNano": T0_NS}], attrs=[])
    expected = LogEvent(T0_NS, "unknown_service", "unspecified", "", ref="test")
    assert decode("logs", doc) == [expected]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"body": {"stringValue": "hi"}}, "hi"),
        ({"body": {"intValue": "5"}}, "5"),
        ({"body": {"doubleValue": 2.0}}, "2"),
        ({"body": {"arrayValue": {"values": [{"boolValue": True}, {}]}}}, '[true,""]'),
        ({"body": {}}, ""),
    ],
)
def test_otlp_log_bodies(record: dict[str, Any], message: str) -> None:
    [event] = decode("logs", otlp_log(timeUnixNano=T0_NS, **record))
    assert event.message == message


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({}, "'timeUnixNano' or 'observedTimeUnixNano'"),
        ({"timeUnixNano": "0", "observedTimeUnixNano": "0"}, "observedTimeUnixNano"),
        ({"timeUnixNano": T0_NS, "traceId": "xyz"}, "'traceId' must be 32 hex digits"),
        ({"timeUnixNano": T0_NS, "traceId": 5}, "'traceId' must be a hex string"),
        ({"timeUnixNano": T0_NS, "severityNumber": "loud"}, "severityNumber"),
        ({"timeUnixNano": T0_NS, "severityNumber": "SEVERITY_NUMBER_LOUD"}, "unknown severity"),
        ({"timeUnixNano": T0_NS, "severityText": 3}, "'severityText'"),
        ({"timeUnixNano": T0_NS, "body": "text"}, "body"),
        ({"timeUnixNano": T0_NS, "body": {"stringValue": 3}}, "stringValue"),
    ],
)
def test_otlp_log_rejects(record: dict[str, Any], fragment: str) -> None:
    rejects("logs", otlp_log(**record), fragment)


def test_otlp_logs_empty_arrays() -> None:
    assert decode("logs", {"resourceLogs": []}) == []
    assert decode("logs", {"resourceLogs": [{"scopeLogs": []}]}) == []
    assert decode("logs", resource("Logs", "logRecords", [])) == []


def test_deeply_nested_any_value_is_rejected() -> None:
    body: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(40):
        body = {"arrayValue": {"values": [body]}}
    rejects("logs", otlp_log(timeUnixNano=T0_NS, body=body), "nested deeper")


# --------------------------------------------------------------------------- traces


def span(**overrides: Any) -> dict[str, Any]:
    doc = {
        "traceId": TRACE,
        "spanId": SPAN,
        "name": "GET /",
        "startTimeUnixNano": str(T0_NS),
        "endTimeUnixNano": str(T0_NS + 5),
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


def traces(*spans: dict[str, Any]) -> dict[str, Any]:
    return resource("Spans", "spans", list(spans))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (..., "unspecified"),
        (0, "unspecified"),
        (1, "internal"),
        (2, "server"),
        ("SPAN_KIND_CLIENT", "client"),
        (4, "producer"),
        ("SPAN_KIND_CONSUMER", "consumer"),
    ],
)
def test_span_kinds(kind: Any, expected: str) -> None:
    [event] = decode("traces", traces(span(kind=kind)))
    assert event.kind == expected


@pytest.mark.parametrize(
    ("status", "is_error"),
    [
        (..., False),
        ({}, False),
        ({"code": 1}, False),
        ({"code": "STATUS_CODE_OK"}, False),
        ({"code": 2, "message": "boom"}, True),
        ({"code": "STATUS_CODE_ERROR"}, True),
    ],
)
def test_span_status(status: Any, is_error: bool) -> None:
    [event] = decode("traces", traces(span(status=status)))
    assert event.is_error is is_error


def test_span_record() -> None:
    doc = traces(span(parentSpanId="", kind=2, attributes=[kv("http.route", stringValue="/")]))
    assert decode("traces", doc) == [
        SpanEvent(
            trace_id=TRACE,
            span_id=SPAN,
            parent_span_id="",
            service="api",
            name="GET /",
            kind="server",
            start_ns=T0_NS,
            end_ns=T0_NS + 5,
            is_error=False,
            attributes={"http.route": "/"},
            ref="test",
        )
    ]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (span(traceId=...), "'traceId' is required"),
        (span(traceId="0" * 32), "all zeroes"),
        (span(traceId=TRACE[:-1]), "32 hex digits"),
        (span(spanId="g" * 16), "16 hex digits"),
        (span(parentSpanId=7), "'parentSpanId'"),
        (span(name=...), "'name'"),
        (span(kind=6), "not one of 0..5"),
        (span(kind="SPAN_KIND_SIDEWAYS"), "unknown value"),
        (span(kind="server"), "kind"),
        (span(kind=True), "boolean"),
        (span(status={"code": 3}), "not one of 0..2"),
        (span(status="error"), "status"),
        (span(startTimeUnixNano=...), "'startTimeUnixNano' is required"),
        (span(endTimeUnixNano=...), "'endTimeUnixNano' is required"),
        (span(endTimeUnixNano=str(T0_NS - 1)), "must not be before"),
        (span(startTimeUnixNano=1.5), "startTimeUnixNano"),
    ],
)
def test_span_rejects(doc: dict[str, Any], fragment: str) -> None:
    rejects("traces", traces(doc), fragment)


def test_traces_empty_arrays() -> None:
    assert decode("traces", {"resourceSpans": []}) == []
    assert decode("traces", traces()) == []


def test_traces_empty_request_is_valid_but_not_an_array() -> None:
    assert decode("traces", {}) == []  # an empty request is valid protobuf
    rejects("traces", [], "expected a JSON object")


# --------------------------------------------------------------------------- feedback


def feedback(**overrides: Any) -> dict[str, Any]:
    doc = {"target": "inc-1", "verdict": "noise", "by": "alice", "at": T0_S}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not ...}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (feedback(), FeedbackEvent("inc-1", "noise", "alice", T0_NS, None, "test")),
        (feedback(at=T0_S * 1000), FeedbackEvent("inc-1", "noise", "alice", T0_NS, None, "test")),
        (feedback(at=str(T0_NS)), FeedbackEvent("inc-1", "noise", "alice", T0_NS, None, "test")),
        (
            feedback(at="2026-11-25T10:00:00Z", severity="critical", note="x"),
            FeedbackEvent("inc-1", "noise", "alice", T0_NS, "critical", "test"),
        ),
        (
            feedback(at=T0_S + 0.5, verdict="true_positive"),
            FeedbackEvent("inc-1", "true_positive", "alice", T0_NS + 500_000_000, None, "test"),
        ),
    ],
)
def test_feedback(doc: dict[str, Any], expected: FeedbackEvent) -> None:
    assert decode("feedback", doc) == [expected]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (feedback(target=...), "target"),
        (feedback(target=""), "target"),
        (feedback(target=42), "target"),
        (feedback(verdict="maybe"), "verdict"),
        (feedback(severity="meh"), "severity"),
        (feedback(by=...), "by"),
        (feedback(at=...), "at"),
        (feedback(at=True), "at"),
        (feedback(at=None), "at"),
        (feedback(at="last tuesday"), "'at'"),
        (feedback(at=0), "after 1970"),
        ([feedback()], "feedback"),
    ],
)
def test_feedback_rejects(doc: Any, fragment: str) -> None:
    rejects("feedback", doc, fragment)


# --------------------------------------------------------------------------- known gaps elsewhere


def alert_payload(starts_at: str) -> dict[str, Any]:
    alert = {"status": "firing", "labels": {"a": "b"}, "startsAt": starts_at, "fingerprint": "f"}
    return {"version": "4", "status": "firing", "alerts": [alert]}


def test_alertmanager_rejects_non_ascii_digits_in_fraction() -> None:
    rejects("alerts", alert_payload("2026-11-25T10:00:00.²Z"), "timestamp")


@pytest.mark.parametrize("starts_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_alertmanager_rejects_times_outside_int64_nanoseconds(starts_at: str) -> None:
    rejects("alerts", alert_payload(starts_at), "")
