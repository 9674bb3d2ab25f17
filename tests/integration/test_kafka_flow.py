"""The flow against a real Tansu broker: Kafka in, Kafka out."""

import signal
import subprocess
import sys
import uuid

import orjson
import pytest

from bench.broker import free_port
from tests.flowkit import alert_lines, metric_lines

pytestmark = pytest.mark.integration

OUTPUTS = ("anomalies", "incidents", "notifications", "dlq")


def _topics(broker, partitions=1):
    run = uuid.uuid4().hex[:8]
    names = {"metrics": f"metrics-{run}", "alerts": f"alerts-{run}", "prefix": f"out-{run}."}
    broker.create_topics(names["metrics"], names["alerts"], partitions=partitions)
    broker.create_topics(*(names["prefix"] + s for s in OUTPUTS))
    return names


def _cmd(broker, names, *extra):
    return [
        sys.executable,
        "-m",
        "alertflow.dataflows.cli",
        "run",
        "--input",
        f"metrics=kafka://{broker.bootstrap}/{names['metrics']}",
        "--input",
        f"alerts=kafka://{broker.bootstrap}/{names['alerts']}",
        "--output",
        f"kafka://{broker.bootstrap}",
        "--set",
        f"topic_prefix={names['prefix']}",
        *extra,
    ]


def _read(broker, names, stream, expect=0):
    return [orjson.loads(v) for v in broker.consume_all(names["prefix"] + stream, expect)]


def test_metrics_and_alerts_through_the_broker(broker):
    names = _topics(broker)
    bad = [b"{oops", b'{"name": 3}', b"\x00\x01binary"]
    broker.produce(names["metrics"], metric_lines()[:300] + bad + metric_lines()[300:])
    broker.produce(names["alerts"], alert_lines())
    done = subprocess.run(_cmd(broker, names, "--set", "kafka.stop_at_end=true"), timeout=120)
    assert done.returncode == 0
    anomalies = _read(broker, names, "anomalies", 1)
    assert any(
        a["labels"]["host"] == "h0" and a["ts"] == "2026-11-25T11:15:00.000Z" for a in anomalies
    )
    incidents = _read(broker, names, "incidents", 1)
    latest = {i["incident_id"]: i for i in incidents}
    # c2's lone warning is a line of the estate's noise digest (domain "*").
    assert sorted(i["domain"] for i in latest.values()) == ["*", "c1"]
    dlq = _read(broker, names, "dlq", 3)
    assert len(dlq) == 3
    assert {d["offset"] for d in dlq} == {300, 301, 302}
    assert all(d["source"] == names["metrics"] and d["partition"] == 0 for d in dlq)


def test_sigterm_stops_a_tailing_job_cleanly(broker):
    names = _topics(broker)
    broker.produce(names["alerts"], alert_lines())
    # A short lateness bound: each domain's alerts are applied a second after they arrive.
    proc = subprocess.Popen(_cmd(broker, names, "--set", "correlation.lateness_s=1"))
    try:
        # Live, the c1 incident only resolves after its quiet period of wall time; c2's lone
        # warning waits record_after_s (event time) before its noise digest lists it.
        versions = _read(broker, names, "incidents", 1)
        assert {v["domain"] for v in versions if v["status"] == "open"} == {"c1"}
        assert proc.poll() is None, "a Kafka job must keep running until stopped"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("by_partition", [False, True], ids=["by_series", "by_partition"])
def test_two_processes_match_one_process(broker, by_partition):
    names = _topics(broker, partitions=2)
    lines = metric_lines(n_series=6)
    # Keyed by series, as prometheus-kafka-adapter partitions, so each series stays in order.
    keys = [orjson.loads(line)["labels"]["host"].encode() for line in lines]
    broker.produce(names["metrics"], lines, keys=keys)
    # Alerts keyed by cluster (the correlation domain), so each domain's alerts stay in order.
    alerts = alert_lines()
    domains = [orjson.loads(a)["alerts"][0]["labels"]["cluster"].encode() for a in alerts]
    broker.produce(names["alerts"], alerts, keys=domains)
    single = dict(names, prefix=names["prefix"] + "one.")
    broker.create_topics(*(single["prefix"] + s for s in OUTPUTS))
    # Anomalies reach a domain from several shards (and processes) in no fixed order; the
    # correlator orders what arrives within its lateness bound, here the whole replay.
    bounded = ("--set", "kafka.stop_at_end=true", "--set", "correlation.lateness_s=86400")
    assert subprocess.run(_cmd(broker, single, *bounded), timeout=120).returncode == 0
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    # Keyed by partition (kafka.series_partitioned), each process scores the series it read.
    local = ("--set", f"kafka.series_partitioned={str(by_partition).lower()}")
    procs = [
        subprocess.Popen(_cmd(broker, names, *bounded, *local, "-a", addresses, "-i", str(i)))
        for i in range(2)
    ]
    try:
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for stream in ("anomalies", "incidents", "notifications"):
        one = sorted(r["id"] for r in _read(broker, single, stream, 1))
        two = sorted(r["id"] for r in _read(broker, names, stream, len(one)))
        assert one and one == two, stream
    # Not only the same ids: every anomaly scored alike, whichever process held its series.
    one = sorted(_read(broker, single, "anomalies", 1), key=lambda r: r["id"])
    two = sorted(_read(broker, names, "anomalies", len(one)), key=lambda r: r["id"])
    assert one == two
