"""The mix bench's partition keys and its CPU-in-the-span reading."""

import orjson

from bench.throughput_mix import CpuTrace, _partition_key


def _trace(trace_id: str) -> bytes:
    span = {"traceId": trace_id, "spanId": "s1", "name": "GET /"}
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def test_traces_are_keyed_by_their_trace_and_alerts_by_their_group():
    assert _partition_key("traces", _trace("abc")) == b"abc"
    assert _partition_key("traces", _trace("abc")) != _partition_key("traces", _trace("abd"))
    alert = orjson.dumps({"groupKey": '{}:{alertname="X"}', "alerts": []})
    assert _partition_key("alerts", alert) == b'{}:{alertname="X"}'
    assert _partition_key("traces", b"[1, 2]") == b""  # not an object: no key, no crash


def test_a_series_keeps_its_key_whatever_the_label_order():
    one = orjson.dumps({"name": "up", "labels": {"a": "1", "b": "2"}, "value": 1})
    two = orjson.dumps({"labels": {"b": "2", "a": "1"}, "name": "up", "value": 0})
    assert _partition_key("metrics", one) == _partition_key("metrics", two)
    log = orjson.dumps({"service": "cart", "message": "x"})
    assert _partition_key("logs", log) == b"cart"


def test_cpu_in_a_span_is_read_from_the_readings_around_it():
    trace = CpuTrace([], every_s=60)
    trace.stop()
    trace.times, trace.cpu = [10.0, 10.5, 11.0, 11.5, 12.0], [1.0, 1.2, 1.9, 2.5, 2.6]
    assert trace.between(10.6, 11.4) == 2.5 - 1.2  # widened to the readings outside it
    assert trace.between(11.0, 11.0) == 0.0
    assert trace.between(0.0, 99.0) == 2.6 - 1.0
