"""An output that cannot be written is one clear line and a non-zero exit, before any work."""

import subprocess
import sys

import pytest

from tests.flowkit import metric_lines


def _alertflow(*args):
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def blocker(tmp_path):
    """A regular file where a directory would have to be: nothing can be created under it."""
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    return path


def _one_clear_line(done, needle):
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("alertflow: error: ") and needle in done.stderr
    assert "Traceback" not in done.stderr and "panic" not in done.stderr


def test_run_into_an_unwritable_output_directory(tmp_path, blocker):
    metrics = tmp_path / "m.jsonl"
    metrics.write_bytes(b"\n".join(metric_lines(n_points=5)) + b"\n")
    out = blocker / "out"
    done = _alertflow("run", "--input", f"metrics={metrics}", "--output", str(out))
    _one_clear_line(done, f"output directory {out} is not writable")


def test_run_into_an_output_that_is_a_file(tmp_path, blocker):
    metrics = tmp_path / "m.jsonl"
    metrics.write_bytes(b"\n".join(metric_lines(n_points=5)) + b"\n")
    done = _alertflow("run", "--input", f"metrics={metrics}", "--output", str(blocker))
    _one_clear_line(done, f"output {blocker} exists and is not a directory")


@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_simulate_and_demo_into_an_unwritable_path(blocker, command):
    out = blocker / "sim"
    done = _alertflow(command, "--out", str(out))
    _one_clear_line(done, f"--out directory {out} is not writable")
    assert blocker.read_text() == "not a directory\n"
