"""``alertflow --version`` and the help of every command a new user meets first."""

import re
import subprocess
import sys
from importlib.metadata import version

import pytest
from alertflow.dataflows.cli import _parser


def _alertflow(*args):
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_version_names_the_installed_release():
    done = _alertflow("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"alertflow {version('alertflow')}"


def test_top_level_help_has_no_literal_markup_and_lists_every_command():
    done = _alertflow("--help")
    assert done.returncode == 0
    assert "``" not in done.stdout and "`" not in done.stdout
    for command in ("run", "detect", "simulate", "demo", "incidents", "logs"):
        assert re.search(rf"^\s+{command}\b", done.stdout, re.M), command


def _subparsers():
    action = next(a for a in _parser()._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("command", ["demo", "simulate", "detect", "run"])
def test_every_option_has_help_and_shows_its_default(command):
    sub = _subparsers()[command]
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.dest} has no help"
        optional = not action.required and not action.help.startswith("required")
        if action.option_strings and optional and action.const is None:
            # Every optional value says what happens without it.
            assert "default" in action.help, f"{command} {action.option_strings} names no default"
        if action.required and action.option_strings:  # a positional is required anyway
            assert action.help.startswith("required"), action.dest
    done = _alertflow(command, "--help")
    assert done.returncode == 0
    assert "`" not in done.stdout
    assert "(default: None)" not in done.stdout


def test_run_help_names_the_streams_and_what_is_required():
    done = _alertflow("run", "--help")
    for stream in ("metrics", "alerts", "logs", "traces", "feedback"):
        assert stream in done.stdout
    assert re.search(r"--input STREAM=URI\s+required", done.stdout)
    assert re.search(r"--output URI\s+required", done.stdout)
    assert "worker threads" in done.stdout and "multi-process" in done.stdout


def test_simulate_prints_a_short_human_summary(tmp_path):
    done = _alertflow("simulate", "--out", str(tmp_path / "sim"), "--hours", "1", "--seed", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert "SimulationSummary" not in done.stdout and "PosixPath" not in done.stdout
    metric_lines = len((tmp_path / "sim" / "metrics.jsonl").read_bytes().splitlines())
    assert f"metrics.jsonl ({metric_lines} samples)" in lines[0]
    assert "ground_truth.json (3 injected faults" in lines[0]
