"""Broker faults against real Tansu brokers: down from the start, down past the bound, restarted.

Subprocess timeouts here only keep a broken build from hanging CI; each is far above
what the behaviour under test allows (the default 120 s delivery bound, for one).
"""

import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from bench.broker import ObjectStore, TansuBroker, free_port
from tests.flowkit import metric_lines, read_jsonl, write_lines

pytestmark = pytest.mark.integration

OUTPUTS = ("anomalies", "incidents", "notifications", "dlq")


def _run_cmd(inputs: list[str], output: str, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "alertflow.dataflows.cli", "run", "--output", output, *extra]
    for uri in inputs:
        cmd += ["--input", f"metrics={uri}"]
    return cmd


class _Job:
    """The CLI in a subprocess, its stderr collected line by line."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, f"job exited early: {self.lines[-5:]}"
            assert time.monotonic() < deadline, f"no {text!r} on stderr: {self.lines[-5:]}"
            time.sleep(0.1)

    def stop(self, timeout_s: float) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _mixed_lines(n_points: int, seed: int) -> list[bytes]:
    """Metrics with a spike, and a bad line every 50: output on two streams."""
    lines = metric_lines(n_series=3, n_points=n_points, spike_at=n_points // 2, seed=seed)
    for i in range(len(lines) - 1, 0, -50):
        lines.insert(i, b'{"name": "cpu", "value": "not a number %d"}' % i)
    return lines


def _by_id(records: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for record in records:
        # At-least-once may repeat a record, never with other contents.
        assert out.setdefault(record["id"], record) == record, record["id"]
    return out


def _reference(tmp_path: Path, inputs: list[str], *extra: str) -> dict[str, dict[str, dict]]:
    out = tmp_path / "reference"
    done = subprocess.run(_run_cmd(inputs, str(out), *extra), timeout=300)
    assert done.returncode == 0
    return {s: _by_id(read_jsonl(out / f"{s}.jsonl")) for s in ("anomalies", "dlq")}


def test_output_where_nothing_listens_fails_with_one_clear_line(tmp_path):
    metrics = write_lines(tmp_path / "metrics.jsonl", _mixed_lines(200, seed=1))
    port = free_port()
    cmd = _run_cmd([str(metrics)], f"kafka://127.0.0.1:{port}")
    done = subprocess.run(
        [*cmd, "--set", "kafka.delivery_timeout_s=3"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1].startswith(f"alertflow: error: output to 127.0.0.1:{port} not delivered")
    assert "not acknowledged within kafka.delivery_timeout_s (3 s)" in lines[-1]
    assert "Connection refused" in lines[-1]
    # librdkafka retries every ~100 ms to 1 s; each kind of its complaints is printed once.
    kafka_lines = [line for line in lines if line.startswith("alertflow: kafka:")]
    assert 1 <= len(kafka_lines) <= 6, kafka_lines
    assert not any(line.startswith("%") for line in lines), "raw librdkafka log line"


def test_input_where_nothing_listens_fails_with_one_clear_line(tmp_path):
    port = free_port()
    cmd = _run_cmd([f"kafka://127.0.0.1:{port}/metrics"], str(tmp_path / "out"))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"alertflow: error: input topic 'metrics' at 127.0.0.1:{port}")


def test_sigterm_stops_a_job_waiting_for_its_input_brokers_at_start(tmp_path):
    port = free_port()
    cmd = _run_cmd([f"kafka://127.0.0.1:{port}/metrics"], str(tmp_path / "out"))
    job = _Job([*cmd, "--set", "kafka.metadata_timeout_s=600"])
    try:
        job.wait_for_line("Connection refused")
        # Stopped long before its bound: the same one-line error.
        assert job.stop(timeout_s=60) == 2
        assert job.lines[-1].startswith(
            f"alertflow: error: input topic 'metrics' at 127.0.0.1:{port}"
        )
    finally:
        job.kill()


def test_sigterm_stops_a_job_whose_output_is_unreachable(broker):
    topic = f"metrics-{uuid.uuid4().hex[:8]}"
    broker.create_topics(topic)
    broker.produce(topic, _mixed_lines(100, seed=2))
    # The default bound (120 s) is far longer than the wait below allows.
    job = _Job(
        _run_cmd([f"kafka://{broker.bootstrap}/{topic}"], f"kafka://127.0.0.1:{free_port()}")
    )
    try:
        job.wait_for_line("Connection refused")
        assert job.stop(timeout_s=60) == 2
        assert "asked to stop" in job.lines[-1]
        assert job.lines[-1].startswith("alertflow: error: output to")
    finally:
        job.kill()


def test_sigterm_stops_a_job_whose_input_broker_is_down(tmp_path):
    source = TansuBroker().start()
    try:
        topic = "metrics"
        source.create_topics(topic)
        source.produce(topic, _mixed_lines(100, seed=3))
        out = tmp_path / "out"
        job = _Job(_run_cmd([f"kafka://{source.bootstrap}/{topic}"], str(out)))
        try:
            while not read_jsonl(out / "dlq.jsonl"):
                assert job.proc.poll() is None, job.lines[-5:]
                time.sleep(0.2)
            source.stop()
            job.wait_for_line("brokers are down")
            # Nothing was left to write: a clean stop.
            assert job.stop(timeout_s=60) == 0
        finally:
            job.kill()
    finally:
        source.stop()


def test_output_past_the_bound_is_sent_again_on_restart(tmp_path):
    """A batch that was never acknowledged is not counted as written: the resumed job sends it."""
    metrics = write_lines(tmp_path / "metrics.jsonl", _mixed_lines(300, seed=4))
    expected = _reference(tmp_path, [str(metrics)])
    port = free_port()
    prefix = ("--set", "topic_prefix=out.")
    recovery = ("--recovery-dir", str(tmp_path / "recovery"))
    cmd = _run_cmd([str(metrics)], f"kafka://127.0.0.1:{port}", *prefix, *recovery)
    failed = subprocess.run([*cmd, "--set", "kafka.delivery_timeout_s=2"], timeout=120)
    assert failed.returncode == 2
    target = TansuBroker(port=port).start()
    try:
        target.create_topics(*(f"out.{s}" for s in OUTPUTS))
        assert subprocess.run(cmd, timeout=300).returncode == 0
        for stream, want in expected.items():
            got = _by_id([orjson.loads(v) for v in target.consume_all(f"out.{stream}", len(want))])
            assert want and got == want, stream
    finally:
        target.stop()


@pytest.fixture
def store():
    pytest.importorskip("moto.server")
    instance = ObjectStore().start()
    yield instance
    instance.stop()


@pytest.mark.parametrize("input_too", [False, True], ids=["output", "input-and-output"])
def test_broker_restarted_mid_run_loses_nothing(broker, store, tmp_path, input_too):
    """The output broker (holding the input topic too, or not) stops and comes back on its port."""
    topic = f"metrics-{uuid.uuid4().hex[:8]}"
    lines = _mixed_lines(450, seed=5)
    first, second, third = lines[:400], lines[400:900], lines[900:]
    target = TansuBroker(store=store).start()
    source = target if input_too else broker  # produce() needs only the address
    restarted = None
    job = None
    try:
        source.create_topics(topic)
        target.create_topics(*(f"out.{s}" for s in OUTPUTS))
        source.produce(topic, first)
        job = _Job(
            _run_cmd(
                [f"kafka://{source.bootstrap}/{topic}"],
                f"kafka://{target.bootstrap}",
                "--set",
                "topic_prefix=out.",
                "--set",
                "kafka.delivery_timeout_s=90",
            )
        )
        first_bad = sum(b"not a number" in line for line in first)
        assert len(target.consume_all("out.dlq", first_bad)) >= first_bad
        target.stop()
        if not input_too:
            source.produce(topic, second)  # read while the output broker is down
        job.wait_for_line("brokers are down")
        time.sleep(2)  # let the job read what it can and wait on its output
        restarted = TansuBroker(port=target.port, store=store).start()
        if input_too:
            source.produce(topic, second)
        source.produce(topic, third)
        expected = _reference(
            tmp_path, [f"kafka://{source.bootstrap}/{topic}"], "--set", "kafka.stop_at_end=true"
        )
        got = {}
        for stream, want in expected.items():
            values = restarted.consume_all(f"out.{stream}", len(want), timeout_s=120)
            got[stream] = _by_id([orjson.loads(v) for v in values])
        assert job.proc.poll() is None, "the job must wait for the broker, not give up"
        assert job.stop(timeout_s=60) == 0
        for stream, want in expected.items():
            assert want and got[stream] == want, stream
    finally:
        if job is not None:
            job.kill()
        for instance in (target, restarted):
            if instance is not None:
                instance.stop()


def test_input_brokers_that_do_not_answer_are_one_line_before_the_engine_starts(tmp_path):
    """Checked before the flow starts: no engine panic note above the error."""
    port = free_port()
    cmd = _run_cmd([f"kafka://127.0.0.1:{port}/metrics"], str(tmp_path / "out"))
    done = subprocess.run([*cmd, "--set", "kafka.metadata_timeout_s=2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "panicked" not in done.stderr and "RUST_BACKTRACE" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("alertflow: error: input topic 'metrics'")
