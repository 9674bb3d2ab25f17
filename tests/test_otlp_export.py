"""Spans leave the job over real OTLP/HTTP: a receiver in the test decodes the protobuf.

No OpenTelemetry Collector or Jaeger binary is installable from Debian or PyPI here,
so the receiver is a real HTTP server that decodes ``ExportTraceServiceRequest``
with the OpenTelemetry project's own protobuf classes (``opentelemetry-proto``), as a
collector's OTLP/HTTP receiver does.
"""

import gzip
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alertflow.operators.simulate import simulate
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class _OtlpReceiver:
    def __init__(self):
        self.requests: list[ExportTraceServiceRequest] = []
        self.content_types: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append(request)
                receiver.content_types.append(self.headers.get("Content-Type"))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def spans(self):
        out = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    out.extend((attributes, span) for span in scope.spans)
        return out


@pytest.fixture
def receiver():
    instance = _OtlpReceiver()
    yield instance
    instance.server.shutdown()


def test_a_run_exports_its_story_over_otlp_http(receiver, tmp_path):
    sim = tmp_path / "sim"
    simulate(sim, seed=1, services=4, duration_s=3600, incidents=1, noise_alerts=0)
    done = subprocess.run(
        [
            sys.executable, "-m", "alertflow.dataflows.cli", "run",
            "--input", f"metrics={sim / 'metrics.jsonl'}", "--input", f"alerts={sim / 'alerts.jsonl'}",
            "--output", str(tmp_path / "out"),
            "--set", "tracing.exporter=otlp", "--set", f"tracing.endpoint={receiver.endpoint}",
            "--set", "tracing.service_name=alertflow-test",
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(receiver.content_types) == {"application/x-protobuf"}
    spans = receiver.spans()
    assert spans and all(r["service.name"] == "alertflow-test" for r, _ in spans)
    by_name: dict[str, list[Span]] = {}
    for _, span in spans:
        by_name.setdefault(span.name, []).append(span)
    incidents, notes = by_name["alertflow.incidents"], by_name["alertflow.notifications"]
    anomalies = by_name["alertflow.anomalies"]
    incident_ids = {s.span_id for s in incidents}
    # Each notification is the child of an incident version, in the same trace.
    for note in notes:
        assert note.parent_span_id in incident_ids
        parent = next(s for s in incidents if s.span_id == note.parent_span_id)
        assert parent.trace_id == note.trace_id
    # Later versions continue the incident's trace; its anomalies are linked members.
    assert len({s.trace_id for s in incidents}) < len(incidents)
    anomaly_ids = {s.span_id for s in anomalies}
    assert any(link.span_id in anomaly_ids for s in incidents for link in s.links)
    attributes = {a.key for s in incidents for a in s.attributes}
    assert {"alertflow.record_id", "alertflow.inputs", "alertflow.status"} <= attributes
