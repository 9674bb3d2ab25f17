"""The job's own /metrics, /livez and /readyz, scraped from a real run against the real broker."""

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.broker import free_port
from tests.flowkit import alert_lines, metric_lines

pytestmark = pytest.mark.integration


def _get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None, ""


def _samples(port):
    _, text = _get(port, "/metrics")
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _committed(broker, topic):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "alertflow"})
    try:
        (part,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return part.offset
    finally:
        consumer.close()


def _samples_once(port, want):
    samples = _samples(port)
    return samples if all(samples.get(k) == v for k, v in want.items()) else None


def _wait_for(predicate, proc, what, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the job exited ({proc.returncode}) before {what}"
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"never saw {what}")


def test_metrics_and_probes_of_a_running_job(broker, tmp_path):
    run = uuid.uuid4().hex[:8]
    metrics_topic, alerts_topic, prefix = f"metrics-{run}", f"alerts-{run}", f"out-{run}."
    broker.create_topics(metrics_topic, alerts_topic)
    broker.create_topics(*(prefix + s for s in ("anomalies", "incidents", "notifications", "dlq")))
    bad = [b"{oops", b'{"name": 3}']
    lines = metric_lines(n_series=3, n_points=200)
    broker.produce(metrics_topic, lines + bad)
    broker.produce(alerts_topic, alert_lines())
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "alertflow.dataflows.cli", "run",
            "--input", f"metrics=kafka://{broker.bootstrap}/{metrics_topic}",
            "--input", f"alerts=kafka://{broker.bootstrap}/{alerts_topic}",
            "--output", f"kafka://{broker.bootstrap}",
            "--set", f"topic_prefix={prefix}",
            "--metrics-port", str(port), "--metrics-address", "127.0.0.1",
            "--recovery-dir", str(tmp_path / "recovery"), "--set", "runtime.snapshot_interval_s=1",
        ],
        stderr=(tmp_path / "stderr").open("wb"),
    )  # fmt: skip
    try:
        _wait_for(lambda: _get(port, "/livez")[0] == 200, proc, "/livez answer 200")
        _wait_for(lambda: _get(port, "/readyz")[0] == 200, proc, "/readyz answer 200")
        want = {
            ("alertflow_input_messages_total", (("stream", "metrics"),)): len(lines) + len(bad),
            ("alertflow_dead_letters_total", (("stream", "metrics"),)): len(bad),
        }
        samples = _wait_for(
            lambda: _samples_once(port, want),
            proc,
            "every metrics message and dead letter counted",
        )
        assert samples[("alertflow_output_records_total", (("stream", "dlq"),))] == len(bad)
        assert samples[("alertflow_input_messages_total", (("stream", "alerts"),))] == len(
            alert_lines()
        )
        # Three series of metric_lines, one scorer each; each with at least one shard key.
        assert samples[("alertflow_state_items", (("kind", "series"),))] == 3
        assert samples[("alertflow_state_keys", (("step", "ShardScoringLogic"),))] >= 1
        assert samples[("alertflow_ready", ())] == 1
        samples = _wait_for(
            lambda: (s := _samples(port)).get(("alertflow_processing_latency_seconds_count", ()))
            and s,
            proc,
            "a latency observation",
        )
        count = samples[("alertflow_processing_latency_seconds_count", ())]
        anomalies = samples.get(("alertflow_output_records_total", (("stream", "anomalies"),)), 0)
        assert count >= anomalies >= 1
        inf = samples[("alertflow_processing_latency_seconds_bucket", (("le", "+Inf"),))]
        assert inf == count
        assert 0 < samples[("alertflow_processing_latency_seconds_sum", ())] < 60 * count
        assert _get(port, "/nothing")[0] == 404
        # KEDA's Kafka scaler reads the group's committed offsets: the job commits its
        # progress at each snapshot, so the lag it sees drops to zero once all is read.
        committed = _wait_for(
            lambda: _committed(broker, metrics_topic) == len(lines) + len(bad), proc,
            "the consumer group's offset at the end of the topic",
        )
        assert committed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _get(port, "/livez")[0] is None  # the port goes with the process


def test_a_taken_metrics_port_is_one_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        metrics = tmp_path / "m.jsonl"
        metrics.write_bytes(b"\n".join(metric_lines()[:3]))
        done = subprocess.run(
            [
                sys.executable, "-m", "alertflow.dataflows.cli", "run",
                "--input", f"metrics={metrics}", "--output", str(tmp_path / "out"),
                "--metrics-port", str(port), "--metrics-address", "127.0.0.1",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1" in done.stderr
