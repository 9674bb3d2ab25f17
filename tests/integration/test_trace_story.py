"""alert → incident → notification as one trace, through the real broker (in-memory exporter)."""

import uuid

import orjson
import pytest
from alertflow.dataflows.flow import build_flow
from alertflow.operators.simulate import simulate
from alertflow.schemas.config import load_config
from bytewax.testing import run_main
from confluent_kafka import Consumer, Producer, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.integration

PRODUCER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PRODUCER_SPAN = 0x00F067AA0BA902B7


def _produce_with_traceparent(broker, topic, values):
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    header = f"00-{PRODUCER_TRACE:032x}-{PRODUCER_SPAN:016x}-01"
    for value in values:
        producer.produce(topic, value=value, headers=[("traceparent", header.encode())])
    assert producer.flush(30) == 0


def _messages(broker, topic):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out = []
    try:
        while True:
            message = consumer.poll(10)
            assert message is not None, f"{topic} did not reach its end"
            if message.error():
                break
            out.append(message)
    finally:
        consumer.close()
    return out


def test_the_trace_follows_the_alert_through_incident_and_notification(broker, tmp_path):
    # A simulated fault: its alerts open an incident, its metrics' anomalies join it.
    simulate(tmp_path, seed=1, services=4, duration_s=3600, incidents=1, noise_alerts=0)
    alert_values = (tmp_path / "alerts.jsonl").read_bytes().splitlines()
    run = uuid.uuid4().hex[:8]
    alerts, metrics, prefix = f"alerts-{run}", f"metrics-{run}", f"out-{run}."
    broker.create_topics(alerts, metrics)
    broker.create_topics(*(prefix + s for s in ("anomalies", "incidents", "notifications", "dlq")))
    _produce_with_traceparent(broker, alerts, alert_values)
    broker.produce(metrics, (tmp_path / "metrics.jsonl").read_bytes().splitlines())
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = load_config(None, {
        "inputs": {"alerts": [f"kafka://{broker.bootstrap}/{alerts}"],
                   "metrics": [f"kafka://{broker.bootstrap}/{metrics}"]},
        "output": f"kafka://{broker.bootstrap}", "topic_prefix": prefix,
        "kafka.stop_at_end": True,
    })  # fmt: skip
    run_main(build_flow(config, tracer_provider=provider))
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    # Each alert message: a CONSUMER span continuing the producer's trace, with its coordinates.
    consumed = [s for s in spans if s.name == f"process {alerts}"]
    assert len(consumed) == len(alert_values)
    for span in consumed:
        assert span.kind == SpanKind.CONSUMER
        assert span.context.trace_id == PRODUCER_TRACE
        assert span.parent.span_id == PRODUCER_SPAN
        assert span.attributes["messaging.system"] == "kafka"
        assert span.attributes["messaging.destination.name"] == alerts
        assert span.attributes["messaging.destination.partition.id"] == "0"
        assert isinstance(span.attributes["messaging.kafka.offset"], int)
    offsets = sorted(s.attributes["messaging.kafka.offset"] for s in consumed)
    assert offsets == list(range(len(alert_values)))

    # Incident versions: PRODUCER spans in the alert's trace, parented on an alert's span.
    incidents = [s for s in spans if s.name == f"send {prefix}incidents"]
    assert incidents
    for span in incidents:
        assert span.kind == SpanKind.PRODUCER
        assert span.attributes["messaging.destination.name"] == prefix + "incidents"
        assert span.context.trace_id == PRODUCER_TRACE
        # An alert's message, or (a version a timer made) the incident's version before.
        assert by_id[span.parent.span_id].name in (f"process {alerts}", span.name)
    assert any(by_id[s.parent.span_id].name == span.name for s in incidents)

    # Notifications: children of the incident version they announce.
    notes = [s for s in spans if s.name == f"send {prefix}notifications"]
    assert notes
    for span in notes:
        parent = by_id[span.parent.span_id]
        assert parent.name == f"send {prefix}incidents"
        assert parent.attributes["alertflow.key"] == span.attributes["alertflow.key"]

    # Members: an incident that took anomalies links to their spans.
    anomaly_spans = {s.context.span_id for s in spans if s.name == f"send {prefix}anomalies"}
    records = [orjson.loads(m.value()) for m in _messages(broker, prefix + "incidents")]
    with_anomalies = {r["id"] for r in records if any(m["kind"] == "anomaly" for m in r["members"])}
    linked = {
        s.attributes["alertflow.record_id"]
        for s in incidents
        if any(link.context.span_id in anomaly_spans for link in s.links)
    }
    assert with_anomalies and with_anomalies <= linked

    # The produced messages carry the span's context for the next consumer.
    span_of = {s.attributes["alertflow.record_id"]: s for s in incidents}
    for message in _messages(broker, prefix + "incidents"):
        record = orjson.loads(message.value())
        (header,) = [v for k, v in message.headers() if k == "traceparent"]
        context = span_of[record["id"]].context
        assert header.decode() == f"00-{context.trace_id:032x}-{context.span_id:016x}-01"
