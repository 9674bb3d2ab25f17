"""The real Alertmanager (Debian's prometheus-alertmanager) posting to ``alertflow serve``.

Alerts are pushed to Alertmanager's API; its ``webhook_config`` points at alertflow's
receiver with a bearer token; the incidents come out of GET /api/v1/incidents with
Alertmanager's own fingerprints as members.
"""

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.api.servers import ServeProcess, free_port, poll, require_binary

TOKEN = "alertmanager-test-token"

CONFIG = """\
route:
  receiver: alertflow
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alertflow
    webhook_configs:
      - url: {url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def _binary() -> str | None:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if found is None and Path("/usr/bin/prometheus-alertmanager").exists():
        found = "/usr/bin/prometheus-alertmanager"
    return found


@pytest.fixture
def alertmanager_for():
    binary = require_binary(_binary(), "Alertmanager", "prometheus-alertmanager")
    started = []

    def start(webhook_url: str) -> str:
        workdir = Path(tempfile.mkdtemp(prefix="alertflow-am-"))
        (workdir / "am.yml").write_text(CONFIG.format(url=webhook_url, token=TOKEN))
        port = free_port()
        proc = subprocess.Popen(
            [binary, f"--config.file={workdir / 'am.yml'}", f"--storage.path={workdir}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=(workdir / "log").open("wb"),
        )
        started.append((proc, workdir))
        url = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None

        poll(ready, bool, timeout=60, every=0.2)
        assert proc.poll() is None, (workdir / "log").read_text()
        return url

    yield start
    for proc, workdir in started:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


def test_alertmanager_webhook_into_alertflow_incidents(tmp_path, alertmanager_for):
    serve = ServeProcess(f"sqlite:///{tmp_path / 'am.db'}", TOKEN, "--set",
                         "correlation.lateness_s=1")
    try:
        serve.wait_healthy()
        am = alertmanager_for(serve.url)
        now = datetime.now(UTC).isoformat()
        alerts = [
            {"labels": {"alertname": "HighErrorRate", "service": svc, "cluster": "prod"},
             "annotations": {"summary": f"{svc} errors"}, "startsAt": now,
             "generatorURL": "http://prometheus/graph"}
            for svc in ("checkout", "payments", "cart")
        ]
        assert httpx.post(f"{am}/api/v2/alerts", json=alerts, timeout=10).status_code == 200
        fingerprints = {a["fingerprint"] for a in httpx.get(f"{am}/api/v2/alerts").json()}
        assert len(fingerprints) == 3
        headers = {"Authorization": f"Bearer {TOKEN}"}
        page = poll(
            lambda: httpx.get(f"{serve.url}/api/v1/incidents", headers=headers).json(),
            lambda p: p["items"] and fingerprints <= {m["id"] for m in p["items"][0]["members"]},
        )
        incident = page["items"][0]
        assert incident["domain"] == "prod"
        assert set(incident["services"]) == {"checkout", "payments", "cart"}
        assert incident["status"] in ("open", "updated")
        assert incident["root_causes"][0]["service"] in {"checkout", "payments", "cart"}
    finally:
        code = serve.stop()
    assert code == 0, serve.output()
