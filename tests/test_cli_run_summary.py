"""``alertflow run`` ends with a summary on stderr and warns when a stream mostly fails to decode."""

import re
import subprocess
import sys

import pytest

from bench.broker import free_port
from tests.flowkit import alert_line, metric_lines


def _alertflow(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def inputs(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_bytes(b"\n".join(metric_lines(n_series=2, n_points=150)) + b"\n")
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(
        b"\n".join(
            alert_line(f"ffff00000000000{i}", "firing", f"2026-11-25T10:0{i}:00Z") for i in range(4)
        )
        + b"\n{not json\n"
    )
    return metrics, alerts


def _row(stderr, stream):
    match = re.search(rf"^\s+{stream}\s+(\d+)\s+(\d+)\s+(\d+)$", stderr, re.M)
    assert match, stderr
    return tuple(int(g) for g in match.groups())


def test_summary_counts_records_in_decoded_and_dead_per_stream(tmp_path, inputs):
    metrics, alerts = inputs
    done = _alertflow(
        "run",
        "--input",
        f"metrics={metrics}",
        "--input",
        f"alerts={alerts}",
        "--output",
        str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "alertflow: run finished" in done.stderr
    assert _row(done.stderr, "metrics") == (300, 300, 0)
    assert _row(done.stderr, "alerts") == (5, 4, 1)
    assert re.search(r"dlq alerts: .*\(1\)", done.stderr)
    incidents = {
        line.split('"incident_id":"')[1][:32]
        for line in (tmp_path / "out" / "incidents.jsonl").read_text().splitlines()
    }
    assert f"{len(incidents)} incidents" in done.stderr
    assert "alertflow: warning" not in done.stderr  # one bad alert in five is not "most"


def test_an_alerts_file_given_as_metrics_is_named_as_the_likely_cause(tmp_path, inputs):
    _, alerts = inputs
    done = _alertflow("run", "--input", f"metrics={alerts}", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert _row(done.stderr, "metrics") == (5, 0, 5)
    warning = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1
    assert "metrics: 5 of 5 records failed to decode" in warning[0]
    assert "decode as alerts: was alerts input given as metrics=?" in warning[0]


def test_a_stream_of_garbage_names_the_top_reason(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text("not json\n" * 3)
    done = _alertflow("run", "--input", f"logs={logs}", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "logs: 3 of 3 records failed to decode; most often: " in done.stderr


def test_a_cluster_process_says_its_summary_is_its_share(tmp_path, inputs):
    metrics, _ = inputs
    done = _alertflow(
        "run",
        "--input",
        f"metrics={metrics}",
        "--output",
        str(tmp_path / "out"),
        "-i",
        "0",
        "-a",
        f"127.0.0.1:{free_port()}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("alertflow: run finished (process 0's share)\n")
    assert _row(done.stderr, "metrics") == (300, 300, 0)
