"""Correlation through a real broker: Alertmanager payloads and OTLP traces in, incidents out.

Two domains. In c1 the traces teach the call graph ``web -> api -> db`` and, apart
from it, ``batch -> queue``; db fails first and its callers follow, while queue
fails at the same moment on its own. In c2, ``web -> api`` and api fails first.
Without the traces, c1's alerts would all be grouped by time alone.
"""

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.flowkit import T0, alert_line

pytestmark = pytest.mark.integration

OUTPUTS = ("anomalies", "incidents", "notifications", "dlq")
START = datetime.fromtimestamp(T0, UTC)  # 2026-11-25T10:00:00Z
NEVER = "0001-01-01T00:00:00Z"


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def trace(cluster: str, path: tuple[str, ...], start_s: float, n: int) -> bytes:
    """One OTLP request: a call down ``path``, a client span wrapping each server span.

    Durations are fixed and nothing fails, so the RED series derived from the traces
    stay flat and no anomaly joins the incidents.
    """
    trace_id = f"{n:032x}"
    t0 = int((T0 + start_s) * 10**9)
    by_service: dict[str, list[dict]] = {}
    parent = ""
    for depth, service in enumerate(path):
        server = f"{n:08x}{depth:04x}{0:04x}"
        client = f"{n:08x}{depth:04x}{1:04x}"
        begin, end = t0 + depth * 1_000_000, t0 + 50_000_000 - depth * 1_000_000
        spans = by_service.setdefault(service, [])
        spans.append(_span(trace_id, server, parent, 2, begin, end))
        if depth + 1 < len(path):
            spans.append(_span(trace_id, client, server, 3, begin + 100_000, end - 100_000))
        parent = client
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": service}},
                            {"key": "k8s.cluster.name", "value": {"stringValue": cluster}},
                        ]
                    },
                    "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
                }
                for service, spans in by_service.items()
            ]
        }
    )


def _span(trace_id, span_id, parent, kind, start_ns, end_ns):
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": "GET /",
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "status": {"code": 0},
    }


def traces() -> list[bytes]:
    """Two requests a minute along every path, from 10 minutes before the fault to after it."""
    paths = {"c1": [("web", "api", "db"), ("batch", "queue")], "c2": [("web", "api")]}
    out = []
    for i, offset in enumerate(range(-600, 600, 30)):
        for cluster, routes in paths.items():
            for j, path in enumerate(routes):
                n = 1 + i * 8 + j + (4 if cluster == "c2" else 0)  # unique, never 0 (invalid)
                out.append(trace(cluster, path, offset + 1, n))
    return out


def alerts() -> list[bytes]:
    def fires(fp, service, start, cluster="c1", severity="warning", name="HighLatency"):
        return alert_line(fp, "firing", at(start), NEVER, service, severity, name, cluster)

    def resolves(fp, service, start, end, cluster="c1", severity="warning", name="HighLatency"):
        return alert_line(fp, "resolved", at(start), at(end), service, severity, name, cluster)

    return [
        fires("c1db", "db", 0, severity="critical", name="DBSlow"),
        fires("c1queue", "queue", 20, name="QueueLag"),
        fires("c1api", "api", 40, name="HighErrors"),
        fires("c1db", "db", 0, severity="critical", name="DBSlow"),  # a re-send
        fires("c1web", "web", 70),
        fires("c2api", "api", 300, cluster="c2", severity="critical", name="HighErrors"),
        fires("c2web", "web", 330, cluster="c2"),
        resolves("c1db", "db", 0, 900, severity="critical", name="DBSlow"),
        resolves("c1api", "api", 40, 910, name="HighErrors"),
        resolves("c1web", "web", 70, 920),
    ]


def test_alerts_and_traces_become_incidents_with_root_causes(broker):
    run = uuid.uuid4().hex[:8]
    topic_alerts, topic_traces, prefix = f"alerts-{run}", f"traces-{run}", f"corr-{run}."
    broker.create_topics(topic_alerts, topic_traces, *(prefix + s for s in OUTPUTS))
    broker.produce(topic_traces, traces())
    payloads = alerts()
    # Keyed by domain, as Alertmanager payloads would be partitioned.
    domains = [orjson.loads(p)["alerts"][0]["labels"]["cluster"].encode() for p in payloads]
    broker.produce(topic_alerts, payloads, keys=domains)
    command = [
        sys.executable,
        "-m",
        "alertflow.dataflows.cli",
        "run",
        "--input",
        f"alerts=kafka://{broker.bootstrap}/{topic_alerts}",
        "--input",
        f"traces=kafka://{broker.bootstrap}/{topic_traces}",
        "--output",
        f"kafka://{broker.bootstrap}",
        "--set",
        f"topic_prefix={prefix}",
        "--set",
        "kafka.stop_at_end=true",
        "--set",
        "correlation.lateness_s=86400",
    ]
    assert subprocess.run(command, timeout=60).returncode == 0

    versions = [orjson.loads(v) for v in broker.consume_all(prefix + "incidents", 3)]
    latest = {v["incident_id"]: v for v in versions}
    by_domain: dict[str, list[dict]] = {}
    for incident in latest.values():
        by_domain.setdefault(incident["domain"], []).append(incident)
    assert sorted(by_domain) == ["*", "c1", "c2"]  # "*": the estate's noise digest

    def shape(incident):
        alerts_in = sorted(m["id"] for m in incident["members"] if m["kind"] == "alert")
        causes = incident["root_causes"]  # a noise digest ranks none
        top = causes[0]["service"] if causes else incident["kind"]
        return alerts_in, top, incident["status"] == "resolved"

    assert [shape(i) for i in by_domain["c1"]] == [(["c1api", "c1db", "c1web"], "db", True)]
    # A lone warning still firing at the end of the input: listed in the estate's noise digest.
    assert [shape(i) for i in by_domain["*"]] == [(["c1queue"], "noise", False)]
    assert [shape(i) for i in by_domain["c2"]] == [(["c2api", "c2web"], "api", False)]
    assert not any(m["kind"] == "anomaly" for i in latest.values() for m in i["members"])
    (chain,) = [i for i in by_domain["c1"] if i["status"] == "resolved"]
    causes = {c["service"]: c["evidence"] for c in chain["root_causes"]}
    assert any("likely a symptom" in e for e in causes["api"] + causes["web"])
    assert chain["severity"] == "critical"

    notes = [orjson.loads(v) for v in broker.consume_all(prefix + "notifications", 3)]
    kinds = {(latest[n["incident_id"]]["members"][0]["id"], n["kind"]) for n in notes}
    assert ("c1db", "incident_opened") in kinds
    assert ("c1db", "incident_resolved") in kinds
    assert ("c2api", "incident_opened") in kinds
    assert broker.consume_all(prefix + "dlq") == []
