"""File inputs paced by event time: each poll spans about file_pace_s of the file's time."""

import orjson
import pytest
from alertflow.dataflows.sources import JsonlSource

T0_S = 1_795_600_800


def write_logs(path, n, span_s):
    with path.open("wb") as f:
        for i in range(n):
            ts = T0_S + span_s * i / max(1, n - 1)
            f.write(orjson.dumps({"timestamp": ts, "service": "cart", "level": "info",
                                  "message": f"m{i}"}) + b"\n")  # fmt: skip


@pytest.mark.parametrize(
    ("n", "span_s", "pace_s", "per_poll"),
    [
        (600, 600, 60, 60),  # a minute of a 10-minute file
        (67, 10_800, 60, 1),  # a few alerts over hours: one line a poll
        (30_000, 600, 60, 1000),  # never more than the unpaced poll
        (10, 0, 60, 1000),  # no time span to pace by
    ],
)
def test_lines_per_poll(tmp_path, n, span_s, pace_s, per_poll):
    path = tmp_path / "logs.jsonl"
    write_logs(path, n, span_s)
    assert JsonlSource(path, pace_s, "logs").lines_per_batch == per_poll


def test_unpaced_or_undecodable_files_read_1000_lines(tmp_path):
    path = tmp_path / "logs.jsonl"
    write_logs(path, 600, 600)
    assert JsonlSource(path).lines_per_batch == 1000
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"not json\n" * 50)
    assert JsonlSource(bad, 60, "logs").lines_per_batch == 1000
