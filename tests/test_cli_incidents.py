"""``alertflow incidents`` and the compacted ``incidents.current.jsonl`` of a file run."""

import subprocess
import sys

import orjson
import pytest

from tests.flowkit import alert_lines, metric_lines, read_jsonl


def _alertflow(*args):
    return subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("run")
    (base / "metrics.jsonl").write_bytes(b"\n".join(metric_lines()) + b"\n")
    (base / "alerts.jsonl").write_bytes(b"\n".join(alert_lines()) + b"\n")
    out = base / "out"
    done = _alertflow(
        "run",
        "--input",
        f"metrics={base / 'metrics.jsonl'}",
        "--input",
        f"alerts={base / 'alerts.jsonl'}",
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out


def _last_versions(path):
    latest = {}
    for record in read_jsonl(path):
        if record["version"] >= latest.get(record["incident_id"], {"version": 0})["version"]:
            latest[record["incident_id"]] = record
    return latest


def test_a_file_run_writes_the_last_version_of_each_incident(run_dir):
    versions = read_jsonl(run_dir / "incidents.jsonl")
    current = read_jsonl(run_dir / "incidents.current.jsonl")
    assert len(versions) > len(current) >= 1
    assert {r["incident_id"]: r for r in current} == _last_versions(run_dir / "incidents.jsonl")
    assert len({r["incident_id"] for r in current}) == len(current)


def test_incidents_json_prints_the_current_versions(run_dir):
    done = _alertflow("incidents", str(run_dir), "--json")
    assert done.returncode == 0, done.stderr
    printed = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert {r["incident_id"]: r for r in printed} == _last_versions(run_dir / "incidents.jsonl")


def test_incidents_prints_a_table_with_the_top_cause_and_its_evidence(run_dir):
    done = _alertflow("incidents", str(run_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "STATUS",
        "SEVERITY",
        "OPENED",
        "LASTED",
        "MEMBERS",
        "PAGES",
        "SERVICES",
    ]
    current = _last_versions(run_dir / "incidents.jsonl").values()
    for incident in current:
        row = next(line for line in lines if line.startswith(incident["incident_id"][:8]))
        assert incident["status"] in row and incident["severity"] in row
        assert f" {len(incident['members'])} " in row
        cause = lines[lines.index(row) + 1]
        if incident["root_causes"]:
            top = incident["root_causes"][0]
            assert cause.strip().startswith(f"top cause {top['service']}")
            assert top["evidence"][0] in cause
    digests = sum(1 for incident in current if incident.get("kind") == "noise")
    assert lines[-1].startswith(f"{len(current) - digests} incident(s)")


def test_incidents_reads_a_versions_file_directly(run_dir):
    done = _alertflow("incidents", str(run_dir / "incidents.jsonl"), "--json")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(_last_versions(run_dir / "incidents.jsonl"))


def test_a_run_without_incidents_removes_a_stale_current_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "incidents.current.jsonl").write_text('{"stale": true}\n')
    (tmp_path / "m.jsonl").write_bytes(b"\n".join(metric_lines(n_points=20)) + b"\n")
    done = _alertflow("run", "--input", f"metrics={tmp_path / 'm.jsonl'}", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert not (out / "incidents.current.jsonl").exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "holds no incidents.jsonl"), (b"{}\n", "not an incident version")],
)
def test_incidents_of_something_else_is_one_clear_line(tmp_path, content, needle):
    target = tmp_path
    if content is not None:
        target = tmp_path / "x.jsonl"
        target.write_bytes(content)
    done = _alertflow("incidents", str(target))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and needle in done.stderr


def test_a_version_without_the_incident_fields_is_one_clear_line(tmp_path):
    target = tmp_path / "x.jsonl"
    target.write_bytes(b'{"incident_id":"a","version":1}\n')
    done = _alertflow("incidents", str(target))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not an alertflow incident version" in done.stderr
    assert _alertflow("incidents", str(target), "--json").stdout == target.read_text()


def test_a_run_that_found_no_incident_says_so_and_exits_0(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "dlq.jsonl").write_text('{"id": "x"}\n')
    done = subprocess.run([sys.executable, "-m", "alertflow.dataflows.cli", "incidents", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no incidents")
