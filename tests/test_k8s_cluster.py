"""The StatefulSet wrapper: sizes from a real HTTP API server, a real child process stopped."""

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alertflow.dataflows.k8s_cluster import ReplicaSource, addresses, pod_ordinal, supervise


class _Api:
    """A real HTTP server answering a StatefulSet GET, with the size a test sets."""

    def __init__(self):
        self.replicas = 2
        self.tokens = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                api.tokens.append(self.headers.get("Authorization"))
                if self.path != "/apis/apps/v1/namespaces/prod/statefulsets/alertflow":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps({"spec": {"replicas": api.replicas}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api():
    server = _Api()
    yield server
    server.server.shutdown()


def test_ordinal_and_addresses():
    assert pod_ordinal("alertflow-12") == 12
    with pytest.raises(ValueError, match="ordinal"):
        pod_ordinal("alertflow")
    assert addresses("af", "af-h", 2101, 3).split(";") == [
        "af-0.af-h:2101", "af-1.af-h:2101", "af-2.af-h:2101"
    ]


def test_replicas_are_read_with_the_service_account_token(api):
    source = ReplicaSource(api.url, "prod", "alertflow", "tok", None)
    assert source.replicas() == 2
    assert api.tokens == ["Bearer tok"]


def test_a_size_change_stops_the_job_with_sigterm(api, tmp_path):
    marker = tmp_path / "stopped"
    # A stand-in job that runs until SIGTERM, then records it and exits cleanly.
    job = [sys.executable, "-c", (
        "import signal, sys, time, pathlib\n"
        f"def stop(*_): pathlib.Path({str(marker)!r}).write_text('term'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "while True: time.sleep(0.05)\n"
    )]
    source = ReplicaSource(api.url, "prod", "alertflow", "tok", None)
    timer = threading.Timer(0.5, lambda: setattr(api, "replicas", 3))
    timer.start()
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        code = supervise(job, source, started_at=2, poll_s=0.1)
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert code == 0
    assert marker.read_text() == "term"
    assert len(api.tokens) >= 2  # polled until the size changed


def test_a_job_that_ends_by_itself_gives_its_exit_code(api):
    source = ReplicaSource(api.url, "prod", "alertflow", "tok", None)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert supervise([sys.executable, "-c", "raise SystemExit(3)"], source, 2, 0.05) == 3
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
