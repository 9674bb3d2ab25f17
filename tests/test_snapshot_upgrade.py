"""An upgrade resumes from a recovery store written by an older version of alertflow."""

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import orjson
import pytest

ARCHIVES = sorted((Path(__file__).parent / "snapshots").glob("resume-*.tar.xz"))
STREAMS = ("metrics", "alerts", "logs", "traces")


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("archive", ARCHIVES, ids=lambda p: p.name)
def test_resumes_from_an_older_store(archive: Path, tmp_path: Path) -> None:
    """The run reads only what came after the snapshot and closes what was open in it."""
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / "resume"
    opened_before = {
        n["incident_id"]
        for n in _lines(root / "out" / "notifications.jsonl")
        if n["kind"] == "incident_opened"
    }
    resolved_before = {
        n["incident_id"]
        for n in _lines(root / "out" / "notifications.jsonl")
        if n["kind"] == "incident_resolved"
    }
    still_open = opened_before - resolved_before
    assert still_open, "the archive must hold an incident open at its snapshot"
    more = {s: (root / "more" / f"{s}.jsonl").read_bytes() for s in STREAMS}
    for stream, data in more.items():
        with (root / "in" / f"{stream}.jsonl").open("ab") as f:
            f.write(data)
    inputs = [a for s in STREAMS for a in ("--input", f"{s}=in/{s}.jsonl")]
    cmd = [sys.executable, "-m", "alertflow.dataflows.cli", "run", *inputs,
           "--output", "out", "--recovery-dir", "rec"]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    # It resumed at the snapshot's offsets: only the appended lines were read.
    new_metrics = len(more["metrics"].splitlines())
    read = re.search(r"^\s*metrics\s+(\d+)\s+(\d+)", done.stderr, re.MULTILINE)
    assert read is not None, done.stderr[-1500:]
    assert (int(read[1]), int(read[2])) == (new_metrics, new_metrics)
    # The restored correlation state carried on: an incident open at the snapshot resolved.
    resolved = {
        n["incident_id"]
        for n in _lines(root / "out" / "notifications.jsonl")
        if n["kind"] == "incident_resolved"
    }
    assert still_open & resolved


def _run(root: Path, *extra: str) -> subprocess.CompletedProcess:
    inputs = [a for s in STREAMS for a in ("--input", f"{s}=in/{s}.jsonl")]
    cmd = [sys.executable, "-m", "alertflow.dataflows.cli", "run", *inputs,
           "--output", "out2", "--recovery-dir", "rec2", *extra]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_a_restart_applies_a_changed_configuration(tmp_path: Path) -> None:
    """Settings held in restored state yield to the configuration the job restarts with."""
    with tarfile.open(ARCHIVES[0]) as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / "resume"
    _run(root)  # this code's own store: scores are not emitted by default
    assert not (root / "out2" / "scores.jsonl").exists()
    more = (root / "more" / "metrics.jsonl").read_bytes()
    for stream in STREAMS:
        with (root / "in" / f"{stream}.jsonl").open("ab") as f:
            f.write((root / "more" / f"{stream}.jsonl").read_bytes())
    _run(root, "--set", "scoring.emit_scores=true")
    scores = _lines(root / "out2" / "scores.jsonl")
    assert len(scores) >= 0.9 * len(more.splitlines())


def test_a_restored_correlator_takes_the_settings_of_today() -> None:
    import pickle

    from alertflow.dataflows.logic import IncidentLogic
    from alertflow.schemas.config import CorrelationConfig

    before = IncidentLogic(None, CorrelationConfig())._correlator("prod")
    snapshot = pickle.dumps(before)
    changed = CorrelationConfig(session_gap_s=1234.0)
    logic = IncidentLogic(pickle.loads(snapshot), changed)
    assert logic.correlator.grouper.settings.session_gap_s == 1234.0
    assert logic.correlator.grouper.settings.catalogue is not None
