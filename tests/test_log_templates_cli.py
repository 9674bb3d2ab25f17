"""``alertflow logs templates`` as a user runs it."""

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from alertflow.dataflows.cli import main
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import logs as logs_bench

ROOT = Path(__file__).resolve().parents[1]
LINES = [
    "user alice logged in from 10.0.0.7",
    "timeout 250ms 10.0.0.7:5432",
    '{"timestamp":"2026-11-25T10:00:00Z","service":"cart","level":"warn","message":"slow 8ms"}',
    "{not json",
    "timeout 1.5s 10.0.0.9:5432",
    "user bob logged in from /10.0.0.8",
    "",
    "timeout 30s 10.1.0.1:6379",
    '{"resourceLogs": []}',
]


def alertflow(*args):
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_json_gives_every_line_in_order_with_its_final_template(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("\n".join(LINES) + "\n")
    done = alertflow("logs", "templates", path, "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["line"] for row in rows] == list(range(1, len(LINES) + 1))
    by_line = {row["line"]: row for row in rows}
    # The first line's template as it ended, widened by line 6 (and the '/' of /10.0.0.8 gone).
    assert by_line[1]["template"] == by_line[6]["template"] == "user <*> logged in from <*>"
    assert by_line[1]["template_id"] == by_line[6]["template_id"]
    timeouts = {by_line[n]["template_id"] for n in (2, 5, 8)}
    assert len(timeouts) == 1 and by_line[2]["template"] == "timeout <*>"
    assert (by_line[3]["service"], by_line[3]["template"]) == ("cart", "slow <*>")
    assert by_line[4]["error"].startswith("not valid JSON")
    assert by_line[7]["template"] == ""  # an empty line is an empty message
    assert by_line[9]["error"] == "a logs document without log records"
    assert f"{path}:4: not valid JSON" in done.stderr


def test_summary_counts_templates(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("\n".join(LINES) + "\n")
    done = alertflow("logs", "templates", path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["count", "template_id", "service", "template"]
    count, _, service, *template = lines[1].split()
    assert (count, service, " ".join(template)) == ("3", "-", "timeout <*>")
    assert lines[-1] == "9 lines, 4 templates, 2 lines not read"


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    done = alertflow("logs", "templates", tmp_path / "nope.log")
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "nope.log" in done.stderr
    assert "Traceback" not in done.stderr


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b)))
def test_any_bytes_give_one_row_per_line(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("logs") / "any.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert main(["logs", "templates", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    # A JSON document may hold several records (OTLP); a plain line is one.
    assert sorted({row["line"] for row in rows}) == list(range(1, len(lines) + 1))
    assert all(("template_id" in row) != ("error" in row) for row in rows)


@pytest.mark.skipif(not (logs_bench.DATA / "Zookeeper").is_dir(), reason="no Loghub data here")
def test_the_command_groups_a_loghub_system_as_the_benchmark_does(tmp_path):
    messages, groups, _ = logs_bench.load(logs_bench.DATA)["Zookeeper"]
    path = tmp_path / "zookeeper.log"
    path.write_text("\n".join(messages) + "\n")
    done = alertflow("logs", "templates", path, "--json")
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["template_id"] for line in done.stdout.splitlines()]
    bench_ids, _ = logs_bench.ours()(messages)
    assert ids == bench_ids
    assert logs_bench.grouping_accuracy(ids, groups) > 0.95
