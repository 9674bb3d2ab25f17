"""The ``alertflow`` command as a user runs it."""

import io
import subprocess
import sys
from contextlib import redirect_stdout

import pytest
from alertflow.dataflows.cli import main
from alertflow.schemas.config import ScoringConfig

from tests.flowkit import read_jsonl


def _csv(tmp_path, values, header="timestamp,value"):
    rows = [header] + [f"2014-04-01 00:{i // 60:02d}:{i % 60:02d},{v}" for i, v in enumerate(values)]
    path = tmp_path / "series.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _detect(path):
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["detect", str(path)])
    return code, out.getvalue().splitlines()


def test_detect_scores_every_row_before_learning_it(tmp_path):
    values = [10.0 + (i % 3) * 0.1 for i in range(300)] + [50.0] + [10.0] * 10
    code, lines = _detect(_csv(tmp_path, values))
    assert code == 0
    assert lines[0] == "timestamp,value,anomaly_score"
    assert len(lines) == 1 + len(values)
    scores = [float(line.split(",")[2]) for line in lines[1:]]
    assert scores[0] == 0.0
    threshold = ScoringConfig().threshold
    assert scores[300] >= threshold  # a per-second series: rarity per hour discounts 3.6
    assert max(scores[:300]) < threshold
    assert lines[301].startswith("2014-04-01 00:05:00,50.0,")


def test_detect_keeps_unparseable_values_in_place(tmp_path):
    code, lines = _detect(_csv(tmp_path, [1.0, "nan", "oops", 2.0]))
    assert code == 0
    assert lines[2].endswith(",nan,") and lines[3].endswith(",oops,")


def test_detect_rejects_a_file_without_the_header(tmp_path, capsys):
    assert main(["detect", str(_csv(tmp_path, [1.0], header="a,b"))]) == 2
    assert "expected a header 'timestamp,value'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--output", "out"], "no inputs"),
        (["run", "--input", "metrics=/nonexistent.jsonl", "--output", "out"], "does not exist"),
        (["run", "--input", "metrics=kafka:///t", "--output", "out"], "no broker"),
        (["run", "--input", "metrics=x.jsonl", "--output", "http://x"], "expected kafka://"),
        (["run", "--input", "metrics=x.jsonl", "--set", "scoring.threshold=7"], "threshold"),
    ],
)
def test_run_reports_bad_setup_clearly(tmp_path, monkeypatch, capsys, args, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.jsonl").write_text("")
    assert main(args) == 2
    assert needle in capsys.readouterr().err


def test_unknown_stream_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--input", "bogus=x.jsonl"])
    assert "STREAM=URI" in capsys.readouterr().err


def test_simulate_then_run_end_to_end(tmp_path):
    sim = tmp_path / "sim"
    assert main(["simulate", "--seed", "3", "--out", str(sim), "--hours", "1"]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "run",
         "--input", f"metrics={sim / 'metrics.jsonl'}", "--input", f"alerts={sim / 'alerts.jsonl'}",
         "--input", f"logs={sim / 'logs.jsonl'}", "--input", f"traces={sim / 'traces.jsonl'}",
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert read_jsonl(tmp_path / "out" / "incidents.jsonl")
    assert read_jsonl(tmp_path / "out" / "dlq.jsonl") == []


def test_demo_incidents_show_log_and_trace_evidence(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "demo", "--verbose",
         "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    causes = [line for line in done.stdout.splitlines() if "top cause" in line]
    # A top cause's evidence cites a log template burst and a series derived from traces.
    assert any('logs: log "' in line for line in causes)
    assert any("anomalous: alertflow_request_" in line for line in causes)  # from spans
    # The same evidence is in the incidents written: a log template member, a span series.
    latest = {}
    for record in read_jsonl(tmp_path / "demo" / "output" / "incidents.jsonl"):
        latest[record["incident_id"]] = record
    members = [m for inc in latest.values() for m in inc["members"]]
    assert any(m["kind"] == "log" and m["labels"].get("template") for m in members)
    assert any(m["kind"] == "anomaly" and m["id"].startswith("anomaly:alertflow_request_")
               for m in members)


def test_set_null_unsets_an_optional_setting(tmp_path):
    """``--set KEY=null`` gives None, as ``null`` does in a config file; a typo stays an error."""
    import subprocess
    import sys

    src = tmp_path / "m.jsonl"
    src.write_text("")
    base = [sys.executable, "-m", "alertflow.dataflows.cli", "run", "--input", f"metrics={src}",
            "--output", str(tmp_path / "out"), "--show-config"]  # fmt: skip
    shown = subprocess.run([*base, "--set", "correlation.corroborate_before_s=null"],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert '"corroborate_before_s": null' in shown.stdout
    bad = subprocess.run([*base, "--set", "correlation.corroborate_before_s=nul"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode != 0 and "corroborate_before_s" in bad.stderr
