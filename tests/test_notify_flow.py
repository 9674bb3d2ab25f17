"""``alertflow run`` delivers its notifications to real HTTP receivers, routed and silenced."""

import os
import subprocess
import sys

import orjson
import yaml
from alertflow.operators.delivery.signing import verify

from tests.flowkit import alert_lines, metric_lines, read_jsonl
from tests.http_receiver import Receiver


def _run(base, config, env=None):
    (base / "metrics.jsonl").write_bytes(b"\n".join(metric_lines()) + b"\n")
    (base / "alerts.jsonl").write_bytes(b"\n".join(alert_lines()) + b"\n")
    (base / "config.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "run", "--config",
         str(base / "config.yaml"), "--input", f"metrics={base / 'metrics.jsonl'}",
         "--input", f"alerts={base / 'alerts.jsonl'}", "--output", str(base / "out")],
        capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})},
    )


def _notify(hooks, **extra):
    return {"notify": {
        "receivers": [{"name": name, "url": hook.url, "signing_secret": {"env": "HOOK_KEY"}}
                      for name, hook in hooks.items()],
        "route": {"receiver": "team", "routes": [
            {"matchers": ["severity=critical"], "receiver": "pager", "continue": True}]},
        **extra,
    }}


def test_a_run_routes_signs_and_delivers_every_notification(tmp_path):
    pager, team = Receiver().start(), Receiver().start()
    done = _run(tmp_path, _notify({"pager": pager, "team": team}), {"HOOK_KEY": "s3cret"})
    pager.stop(), team.stop()
    assert done.returncode == 0, done.stderr
    notes = read_jsonl(tmp_path / "out" / "notifications.jsonl")
    assert notes and all(n["receivers"] for n in notes)
    for name, hook in (("pager", pager), ("team", team)):
        expected = sorted(n["id"] for n in notes if name in n["receivers"])
        got = sorted(orjson.loads(r.body)["id"] for r in hook.ok())
        assert got == expected, name
        for r in hook.ok():
            assert verify(b"s3cret", r.body, r.headers["X-Alertflow-Signature"],
                          now_s=int(r.headers["X-Alertflow-Signature"][2:12]))
    assert any("pager" in n["receivers"] for n in notes)
    assert "s3cret" not in done.stderr + done.stdout


def test_a_silence_holds_pages_back_but_keeps_the_record(tmp_path):
    hook = Receiver().start()
    silence = {"matchers": ["service=~db|api"], "starts_at": "2026-11-25T00:00:00Z",
               "ends_at": "2026-11-26T00:00:00Z", "created_by": "ana", "comment": "migration"}
    config = _notify({"pager": hook, "team": hook}, silences=[silence])
    done = _run(tmp_path, config, {"HOOK_KEY": "k"})
    hook.stop()
    assert done.returncode == 0, done.stderr
    notes = read_jsonl(tmp_path / "out" / "notifications.jsonl")
    assert notes and all("by ana: migration" in n["suppressed_by"] for n in notes)
    assert hook.received == []
    incidents = read_jsonl(tmp_path / "out" / "incidents.jsonl")
    assert incidents, "silences hold pages back, not incidents"


def test_a_missing_secret_stops_the_job_with_one_clear_line(tmp_path):
    hook = Receiver().start()
    done = _run(tmp_path, _notify({"pager": hook, "team": hook}),
                {"HOOK_KEY": ""})
    hook.stop()
    assert done.returncode != 0
    assert "environment variable HOOK_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_rerun_of_the_same_input_does_not_page_twice(tmp_path):
    hook = Receiver().start()
    config = _notify({"pager": hook, "team": hook})
    first = _run(tmp_path, config, {"HOOK_KEY": "k"})
    sent = len(hook.ok())
    second = _run(tmp_path, config, {"HOOK_KEY": "k"})
    hook.stop()
    assert first.returncode == second.returncode == 0, second.stderr
    assert sent > 0 and len(hook.ok()) == sent
