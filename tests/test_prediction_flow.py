"""Trend scenarios from the simulator, through the whole flow: predictions and predicted incidents."""

import json
import subprocess
import sys

import numpy as np
import pytest
from alertflow.operators.normalize import shard_of
from alertflow.operators.simulate.trends import KINDS, trend_scenarios, write_trends
from alertflow.schemas.outputs import Incident, Prediction
from alertflow.schemas.timefmt import parse_rfc3339_ns


def test_scenarios_are_deterministic_and_their_truth_holds():
    a, b = trend_scenarios(3, 8, days=2), trend_scenarios(3, 8, days=2)
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a, b, strict=True))
    assert [s.kind for s in a] == list(KINDS) * 2
    for s in a:
        crosses = s.breach_ns is not None
        assert crosses == (s.kind in ("breach", "spike")), s.kind
        if crosses:
            assert s.times_ns[0] + 86400 * 10**9 * 0.3 < s.breach_ns <= s.times_ns[-1]


def test_simulate_cli_writes_trends(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "simulate", "--out", str(tmp_path),
         "--hours", "1", "--trends", "4", "--incidents", "0"],
        check=True, capture_output=True,
    )  # fmt: skip
    truth = json.loads((tmp_path / "breaches.json").read_text())
    assert [t["kind"] for t in truth] == list(KINDS)
    assert "thresholds" in (tmp_path / "prediction.yaml").read_text()
    assert (tmp_path / "trends.jsonl").read_text().count("\n") == 4 * 60


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("trends")
    write_trends(root, seed=0, count=8, days=2.0)
    out = root / "out"
    subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "run",
         "--input", f"metrics={root / 'trends.jsonl'}", "--output", str(out),
         "--config", str(root / "prediction.yaml")],
        check=True, capture_output=True,
    )  # fmt: skip
    truth = json.loads((root / "breaches.json").read_text())
    return truth, out


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_flow_predicts_the_trend_breaches_ahead(flow_run):
    truth, out = flow_run
    predictions = [Prediction.model_validate(r) for r in _lines(out / "predictions.jsonl")]
    assert predictions
    by_scenario = {}
    for p in predictions:
        if p.status == "breach_predicted":
            by_scenario.setdefault(p.labels["scenario"], []).append(p)
    for t in truth:
        if t["kind"] != "breach":
            continue
        first = by_scenario[t["scenario"]][0]
        assert t["breach_ns"] - parse_rfc3339_ns(first.ts) >= 30 * 60 * 10**9
        assert first.recommendations and first.forecast


def test_flow_opens_and_closes_predicted_incidents(flow_run):
    truth, out = flow_run
    incidents = [Incident.model_validate(r) for r in _lines(out / "incidents.jsonl")]
    predicted = [i for i in incidents if i.members[0].kind == "prediction"]
    assert predicted
    closed = [i for i in predicted if i.status == "resolved"]
    breaching = {t["scenario"] for t in truth if t["breach_ns"] is not None}
    for incident in closed:
        scenario = incident.members[0].labels["scenario"]
        assert incident.outcome == ("happened" if scenario in breaching else "averted")
    assert any(i.outcome == "happened" for i in closed)


def test_audit_chains_of_anomalies_and_predictions_are_their_series_shards(flow_run):
    # Chains follow the scoring and forecasting steps' state keys; without
    # kafka.series_partitioned a key is the series' shard, so every audit record is
    # what it was when chains were named from the series (byte for byte: same partition,
    # same seq, same order, so the same hash).
    _, out = flow_run
    decisions = {r["id"]: r for s in ("anomalies", "predictions")
                 for r in _lines(out / f"{s}.jsonl")}  # fmt: skip
    streams = {"anomalies": "scoring", "predictions": "prediction"}
    checked = set()
    for record in _lines(out / "audit.jsonl"):
        if record["stream"] in streams:
            series = decisions[record["record_id"]]["series"]
            assert record["partition"] == f"{streams[record['stream']]}/{shard_of(series, 64)}"
            checked.add(record["stream"])
    assert checked == set(streams)
