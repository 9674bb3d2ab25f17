"""``alertflow incidents kafka://...`` against a real broker: the same view as the file run's."""

import subprocess
import sys
import uuid

import orjson
import pytest
from alertflow.schemas.config import OUTPUT_STREAMS

from tests.flowkit import alert_lines, metric_lines

pytestmark = pytest.mark.integration


def _alertflow(*args):
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_incidents_from_the_topic_match_the_file_run(broker, tmp_path):
    (tmp_path / "m.jsonl").write_bytes(b"\n".join(metric_lines()) + b"\n")
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(alert_lines()) + b"\n")
    inputs = [
        "--input",
        f"metrics={tmp_path / 'm.jsonl'}",
        "--input",
        f"alerts={tmp_path / 'a.jsonl'}",
    ]
    prefix = f"view-{uuid.uuid4().hex[:8]}."
    broker.create_topics(*(prefix + s for s in OUTPUT_STREAMS))
    to_kafka = _alertflow(
        "run", *inputs, "--output", f"kafka://{broker.bootstrap}", "--set", f"topic_prefix={prefix}"
    )
    assert to_kafka.returncode == 0, to_kafka.stderr
    to_files = _alertflow("run", *inputs, "--output", str(tmp_path / "out"))
    assert to_files.returncode == 0, to_files.stderr

    topic = f"kafka://{broker.bootstrap}/{prefix}incidents"
    from_topic = _alertflow("incidents", topic, "--json")
    assert from_topic.returncode == 0, from_topic.stderr
    current = [orjson.loads(line) for line in from_topic.stdout.splitlines()]
    expected = [
        orjson.loads(line)
        for line in (tmp_path / "out" / "incidents.current.jsonl").read_bytes().splitlines()
    ]
    assert current and sorted(current, key=lambda r: r["id"]) == sorted(
        expected, key=lambda r: r["id"]
    )

    # The table reads the pages from the notifications topic beside it.
    table_topic = _alertflow("incidents", topic).stdout.splitlines()
    table_files = _alertflow("incidents", str(tmp_path / "out")).stdout.splitlines()
    assert table_topic[:-1] == table_files[:-1]
    assert table_topic[-1].endswith(f"current versions of {topic}")


def test_a_missing_topic_is_one_line(broker):
    done = _alertflow("incidents", f"kafka://{broker.bootstrap}/no-such-{uuid.uuid4().hex[:8]}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no such topic" in done.stderr
