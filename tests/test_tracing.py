"""Decision spans, checked with the SDK's in-memory exporter."""

from alertflow.dataflows.flow import build_flow
from alertflow.schemas.config import AlertflowConfig
from bytewax.testing import run_main
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.flowkit import alert_lines, metric_lines, read_jsonl, write_lines


def test_every_decision_has_a_span_linked_to_its_inputs(tmp_path):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = write_lines(tmp_path / "metrics.jsonl", metric_lines())
    alerts = write_lines(tmp_path / "alerts.jsonl", alert_lines())
    config = AlertflowConfig(
        inputs={"metrics": [str(metrics)], "alerts": [str(alerts)]}, output=str(tmp_path / "out")
    )
    run_main(build_flow(config, tracer_provider=provider))

    spans = exporter.get_finished_spans()
    by_record = {s.attributes["alertflow.record_id"]: s for s in spans}
    anomalies = read_jsonl(tmp_path / "out" / "anomalies.jsonl")
    incidents = read_jsonl(tmp_path / "out" / "incidents.jsonl")
    assert anomalies and incidents
    for anomaly in anomalies:
        span = by_record[anomaly["id"]]
        assert span.name == "alertflow.anomalies"
        (ref,) = span.attributes["alertflow.inputs"]
        path, _, line = ref.rpartition(":")
        assert path == str(metrics)
        raw = metrics.read_bytes().splitlines()[int(line) - 1]
        assert anomaly["labels"]["host"].encode() in raw
        assert span.attributes["alertflow.score"] == anomaly["score"]
    opened = [i for i in incidents if i["status"] == "open"]
    for incident in opened:
        span = by_record[incident["id"]]
        assert span.attributes["alertflow.status"] == "open"
        assert span.attributes["alertflow.inputs"][0].startswith(str(alerts))
        assert span.start_time <= span.end_time


def test_no_tracing_by_default_costs_no_step(tmp_path):
    metrics = write_lines(tmp_path / "metrics.jsonl", metric_lines()[:5])
    config = AlertflowConfig(inputs={"metrics": [str(metrics)]}, output=str(tmp_path / "out"))
    flow = build_flow(config)
    assert not any("trace" in step.step_id for step in flow.substeps)


def test_every_scores_record_has_its_span_too(tmp_path):
    # scores come from scoring as blocks; tracing gives each record its own span
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = write_lines(tmp_path / "metrics.jsonl", metric_lines())
    config = AlertflowConfig(
        inputs={"metrics": [str(metrics)]}, output=str(tmp_path / "out"),
        scoring={"emit_scores": True},
    )
    run_main(build_flow(config, tracer_provider=provider))

    scores = read_jsonl(tmp_path / "out" / "scores.jsonl")
    spans = [s for s in exporter.get_finished_spans() if s.name == "alertflow.scores"]
    assert scores
    assert sorted(s.attributes["alertflow.record_id"] for s in spans) == sorted(
        r["id"] for r in scores
    )
