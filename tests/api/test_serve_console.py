"""``alertflow serve`` serves the console and keeps API-set silences where its flow reads them."""

import json
import time
from datetime import UTC, datetime

import httpx
import yaml

from tests.api.servers import ServeProcess, poll
from tests.flowkit import read_jsonl
from tests.http_receiver import Receiver

TOKEN = "serve-console-token"


def _payload(fingerprint: str, service: str) -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": "HighErrorRate", "service": service},
        "startsAt": now, "fingerprint": fingerprint}]}


def test_serve_hands_the_console_and_a_silences_file_beside_the_store(tmp_path):
    serve = ServeProcess(f"sqlite:///{tmp_path / 'serve.db'}", TOKEN)
    try:
        serve.wait_healthy()
        page = httpx.get(serve.url + "/", timeout=30)
        assert page.status_code == 200 and "<h1>alertflow</h1>" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = httpx.get(serve.url + "/console/console.js", timeout=30)
        assert script.headers["content-type"].startswith("text/javascript")
        assert "/api/v1/silences" in script.text
        assert httpx.get(serve.url + "/console/console.py", timeout=30).status_code == 404
        auth = {"Authorization": f"Bearer {TOKEN}"}
        made = httpx.post(serve.url + "/api/v1/silences", headers=auth, timeout=30,
                          json={"matchers": ["service=checkout"], "comment": "deploy"})
        assert made.status_code == 201, made.text
        stored = json.loads((tmp_path / "alertflow-silences.json").read_text())
        assert [s["id"] for s in stored] == [made.json()["id"]]
    finally:
        code = serve.stop()
    assert code == 0, serve.output()
    assert "Traceback" not in serve.output()


def test_a_silence_set_through_the_api_holds_back_the_running_flows_pages(tmp_path):
    hook = Receiver().start()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"notify": {
        "receivers": [{"name": "pager", "url": hook.url}], "route": {"receiver": "pager"}}}))
    out = tmp_path / "out"
    serve = ServeProcess(f"sqlite:///{tmp_path / 'serve.db'}", TOKEN, "--config", str(config),
                         "--output", str(out), "--set", "correlation.lateness_s=1")
    try:
        serve.wait_healthy()
        with httpx.Client(base_url=serve.url, timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            made = client.post("/api/v1/silences", json={"matchers": ["service=checkout"],
                                                         "comment": "deploy"}).json()
            time.sleep(1.5)  # the flow looks at the file at most once a second
            for fp, service in (("f1", "checkout"), ("f2", "checkout")):
                assert client.post("/api/v1/alerts/alertmanager",
                                   json=_payload(fp, service)).status_code == 202
            notes = poll(lambda: read_jsonl(out / "notifications.jsonl")
                         if (out / "notifications.jsonl").exists() else [], bool)
    finally:
        code = serve.stop()
        hook.stop()
    assert code == 0, serve.output()
    assert all(f"silence {made['id']} by admin (environment): deploy" in n["suppressed_by"]
               for n in notes), notes
    assert hook.received == []
