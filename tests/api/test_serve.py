"""``alertflow serve`` end to end: HTTP intake → the flow → the store → the API; then export."""

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from tests.api.servers import ServeProcess, poll

TOKEN = "serve-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _payload(fingerprint: str, service: str, status: str = "firing", **labels: str) -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": "4", "status": status, "alerts": [{
        "status": status, "labels": {"alertname": "HighErrorRate", "service": service, **labels},
        "startsAt": now, "fingerprint": fingerprint}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'serve.db'}"
    return request.getfixturevalue("postgres").url


def test_serve_turns_posted_alerts_into_incidents_and_stops_cleanly(store_url, tmp_path):
    serve = ServeProcess(store_url, TOKEN, "--set", "correlation.lateness_s=1",
                         "--set", "analytics.team_label=owner")
    try:
        serve.wait_healthy()
        with httpx.Client(base_url=serve.url, headers=AUTH, timeout=30) as client:
            for fp, service, owner in (("f1", "checkout", "shop"), ("f2", "payments", "")):
                body = _payload(fp, service, **({"owner": owner} if owner else {}))
                assert client.post("/api/v1/alerts/alertmanager", json=body).status_code == 202
            assert client.post("/api/v1/alerts/alertmanager", json={"version": "4"}).status_code == 422
            page = poll(lambda: client.get("/api/v1/incidents").json(),
                        lambda p: p["items"] and {"f1", "f2"} <= {
                            m["id"] for m in p["items"][0]["members"]})
            incident = page["items"][0]
            assert set(incident["services"]) == {"checkout", "payments"}
            assert incident["root_causes"]
            given = client.post(f"/api/v1/incidents/{incident['incident_id']}/verdict",
                                json={"verdict": "true_positive"})
            assert given.status_code == 202
            dead = poll(lambda: client.get("/api/v1/dead-letters").json(), bool)
            assert dead[0]["stream"] == "alerts"
            analytics = client.get("/api/v1/analytics/alerts").json()
            assert {r["rule"] for r in analytics["rules"]} == {"HighErrorRate"}
            # serve hands analytics.team_label to the alert writer: 'owner' names the team
            assert {r["team"] for r in analytics["teams"]} == {"shop", "unassigned"}
    finally:
        code = serve.stop()
    assert code == 0, serve.output()
    assert "Traceback" not in serve.output()
    out = tmp_path / "incidents.csv"
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "export", "--what", "incidents",
         "--format", "csv", "--out", str(out), "--store", store_url],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["incident_id"] == incident["incident_id"]
    assert set(json.loads(rows[0]["services"])) == {"checkout", "payments"}


def test_serve_refuses_a_port_in_use_with_one_line(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "alertflow.dataflows.cli", "serve", "--http",
             f"127.0.0.1:{port}", "--store", f"sqlite:///{tmp_path / 's.db'}"],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 2
    assert "cannot listen" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.integration
def test_serve_in_kafka_mode_produces_intake_to_the_topic_the_flow_reads(broker, tmp_path):
    import uuid

    topic = f"alerts-{uuid.uuid4().hex[:8]}"
    broker.create_topics(topic)
    serve = ServeProcess(f"sqlite:///{tmp_path / 'k.db'}", TOKEN, "--input",
                         f"alerts=kafka://{broker.bootstrap}/{topic}",
                         "--set", "correlation.lateness_s=1")
    try:
        serve.wait_healthy()
        with httpx.Client(base_url=serve.url, headers=AUTH, timeout=30) as client:
            for fp, service in (("k1", "checkout"), ("k2", "payments")):
                assert client.post("/api/v1/alerts/alertmanager",
                                   json=_payload(fp, service)).status_code == 202
            assert client.post("/api/v1/events/metrics", json={}).status_code == 404
            page = poll(lambda: client.get("/api/v1/incidents").json(),
                        lambda p: p["items"] and {"k1", "k2"} <= {
                            m["id"] for m in p["items"][0]["members"]})
            assert set(page["items"][0]["services"]) == {"checkout", "payments"}
        on_topic = broker.consume_all(topic)
        assert len(on_topic) == 2
    finally:
        code = serve.stop()
    assert code == 0, serve.output()
