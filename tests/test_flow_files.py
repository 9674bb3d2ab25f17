"""The whole flow on JSONL files, in process and as two Bytewax processes."""

import subprocess
import sys
from datetime import UTC, datetime

import orjson
from alertflow.dataflows.flow import build_flow
from alertflow.schemas.config import AlertflowConfig
from bytewax.testing import run_main

from bench.broker import free_port
from tests.flowkit import alert_lines, metric_lines, read_jsonl, write_lines


def _inputs(tmp_path, bad_lines=()):
    metrics = metric_lines()
    for i, bad in enumerate(bad_lines):
        metrics.insert(10 + 7 * i, bad)
    return {
        "metrics": [str(write_lines(tmp_path / "metrics.jsonl", metrics))],
        "alerts": [str(write_lines(tmp_path / "alerts.jsonl", alert_lines()))],
    }


def _run(tmp_path, inputs, out="out"):
    config = AlertflowConfig(inputs=inputs, output=str(tmp_path / out))
    run_main(build_flow(config))
    return {
        s: read_jsonl(tmp_path / out / f"{s}.jsonl")
        for s in ("anomalies", "incidents", "notifications", "dlq", "scores")
    }


def test_spike_becomes_anomaly_and_alerts_become_incidents(tmp_path):
    outputs = _run(tmp_path, _inputs(tmp_path))
    spikes = [a for a in outputs["anomalies"] if a["labels"]["host"] == "h0"]
    assert any(a["ts"] == "2026-11-25T11:15:00.000Z" for a in spikes)
    incidents = {}
    for version in outputs["incidents"]:
        incidents[version["incident_id"]] = version
    assert len(incidents) == 2
    by_domain = {inc["domain"]: inc for inc in incidents.values()}
    assert by_domain["c1"]["status"] == "resolved"
    assert by_domain["c1"]["root_causes"][0]["service"] == "db"
    assert {m["id"] for m in by_domain["c1"]["members"]} == {"aaaa000000000001", "aaaa000000000002"}
    # c2's lone warning is a line of the estate's noise digest (noise_digest_scope estate).
    assert by_domain["*"]["kind"] == "noise" and by_domain["*"]["status"] == "open"
    assert [m["labels"]["cluster"] for m in by_domain["*"]["members"]] == ["c2"]
    kinds = sorted(n["kind"] for n in outputs["notifications"])
    # c1 opens critical and resolves; c2's lone warning fires as the input ends: not announced.
    assert kinds == ["incident_opened", "incident_resolved"]
    assert outputs["dlq"] == []


def test_bad_lines_go_to_dlq_and_neighbours_still_flow(tmp_path):
    bad = [b"{not json", b'{"name":"x"}', b"\xff\xfe\x00", b"[1,2,3]"]
    outputs = _run(tmp_path, _inputs(tmp_path, bad))
    assert len(outputs["dlq"]) == 4
    assert all(d["stream"] == "metrics" and d["reason"] for d in outputs["dlq"])
    assert {d["offset"] for d in outputs["dlq"]} == {11, 18, 25, 32}
    clean = _run(tmp_path, _inputs(tmp_path), out="clean")
    assert [a["id"] for a in outputs["anomalies"]] == [a["id"] for a in clean["anomalies"]]


def test_replay_gives_identical_ids(tmp_path):
    inputs = _inputs(tmp_path)
    one = _run(tmp_path, inputs, "one")
    two = _run(tmp_path, inputs, "two")
    for stream in ("anomalies", "incidents", "notifications"):
        assert [r["id"] for r in one[stream]] == [r["id"] for r in two[stream]]


def test_two_processes_give_the_same_outputs_as_one(tmp_path):
    inputs = _inputs(tmp_path)
    single = _run(tmp_path, inputs, "single")
    ports = [free_port(), free_port()]
    addresses = ";".join(f"127.0.0.1:{p}" for p in ports)
    args = [
        sys.executable,
        "-m",
        "alertflow.dataflows.cli",
        "run",
        "--input",
        f"metrics={inputs['metrics'][0]}",
        "--input",
        f"alerts={inputs['alerts'][0]}",
        "--output",
        str(tmp_path / "multi"),
        "-a",
        addresses,
    ]
    procs = [subprocess.Popen([*args, "-i", str(i)]) for i in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    for stream in ("anomalies", "incidents", "notifications", "dlq"):
        multi = read_jsonl(tmp_path / "multi" / f"{stream}.jsonl")
        assert sorted(r["id"] for r in multi) == sorted(r["id"] for r in single[stream]), stream


def _log_line(ts_s, service, level, message, cluster="c1"):
    return orjson.dumps(
        {
            "timestamp": f"{_iso(ts_s)}",
            "service": service,
            "level": level,
            "message": message,
            "cluster": cluster,
        }
    )


def _iso(ts_s):
    return datetime.fromtimestamp(ts_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_log_template_burst_joins_the_incident_as_one_member(tmp_path):
    t0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC).timestamp()  # half an hour of quiet first
    lines = [
        _log_line(t0 + 60 * i, "db", "warn", f"slow query took {200 + i}ms") for i in range(30)
    ]
    # From 10:00, db logs a new error 40 times a minute: one template, one member.
    burst = t0 + 1800
    lines += [
        _log_line(burst + 1.5 * i, "db", "error", f"deadlock detected on txn {1000 + i:x}ab12ef34")
        for i in range(200)
    ]
    inputs = {
        "alerts": [str(write_lines(tmp_path / "alerts.jsonl", alert_lines()))],
        "logs": [str(write_lines(tmp_path / "logs.jsonl", lines))],
    }
    outputs = _run(tmp_path, inputs)
    last = {}
    for version in outputs["incidents"]:
        last[version["incident_id"]] = version
    db = next(i for i in last.values() if "db" in i["services"] and i["domain"] == "c1")
    logs = [m for m in db["members"] if m["kind"] == "log"]
    assert len(logs) == 1, db["members"]
    assert logs[0]["count"] >= 100  # the burst's lines, not one member per line
    assert "log pattern" in db["summary"]
    evidence = [e for c in db["root_causes"] if c["service"] == "db" for e in c["evidence"]]
    assert any(e.startswith('logs: log "deadlock detected on txn <*>"') for e in evidence), evidence
