"""The telemetry simulator: determinism, wire formats, and a ground truth that matches the files."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from alertflow.operators.simulate import SimulationError, SimulationSummary, simulate
from alertflow.operators.simulate.alerts import alert_fingerprint

FILES = ("metrics.jsonl", "alerts.jsonl", "traces.jsonl", "logs.jsonl", "ground_truth.json")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
ZERO_TIME = "0001-01-01T00:00:00Z"
REPO = Path(__file__).resolve().parents[1]

# A one-hour run on a small estate keeps the determinism and many-seed checks fast.
SMALL = {"duration_s": 3600, "services": 8, "incidents": 3, "noise_alerts": 4}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("default")
    return out, simulate(out, seed=7)


@pytest.fixture(scope="module")
def multi_cluster_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("clusters")
    return out, simulate(out, seed=3, clusters=2, incidents=5, noise_alerts=8)


@pytest.fixture(params=["default_run", "multi_cluster_run"])
def run(request: pytest.FixtureRequest) -> tuple[Path, SimulationSummary]:
    return request.getfixturevalue(request.param)


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    simulate(tmp_path / "a", seed=11, **SMALL)
    simulate(tmp_path / "b", seed=11, **SMALL)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_output_does_not_depend_on_hash_randomisation(tmp_path: Path) -> None:
    code = "import sys, pathlib; from operators.simulate import simulate; " + (
        f"simulate(pathlib.Path(sys.argv[1]), seed=5, clusters=2, **{SMALL!r})"
    )
    for run_dir, hash_seed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / run_dir)], check=True, cwd=REPO, env=env
        )
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_different_seeds_give_different_files(tmp_path: Path) -> None:
    simulate(tmp_path / "a", seed=1, **SMALL)
    simulate(tmp_path / "b", seed=2, **SMALL)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes(), name


def test_summary_counts_match_files(run: tuple[Path, SimulationSummary]) -> None:
    out, summary = run
    assert summary.out_dir == out
    assert summary.metric_lines == len(_lines(summary.metrics_path))
    assert summary.alert_payloads == len(_lines(summary.alerts_path))
    assert summary.trace_requests == len(_lines(summary.traces_path))
    assert summary.log_lines == len(_lines(summary.logs_path))
    truth = json.loads(summary.ground_truth_path.read_text())
    assert summary.incidents == len(truth["incidents"])
    assert summary.noise_alerts == len(truth["noise_alert_fingerprints"])


def test_metrics_lines_have_adapter_fields_and_are_time_ordered(
    run: tuple[Path, SimulationSummary],
) -> None:
    out, _ = run
    truth = json.loads((out / "ground_truth.json").read_text())
    records = _lines(out / "metrics.jsonl")
    for record in records:
        assert set(record) == {"timestamp", "value", "name", "labels"}
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", record["timestamp"])
        assert isinstance(record["value"], str)
        float(record["value"])
        labels = record["labels"]
        assert set(labels) == {"__name__", "service", "cluster", "namespace", "instance", "job"}
        assert labels["__name__"] == record["name"]
        assert labels["service"] in truth["services"]
        assert labels["cluster"] in truth["clusters"]
    stamps = [record["timestamp"] for record in records]
    assert stamps == sorted(stamps)
    assert len({record["name"] for record in records}) >= 5


def test_alert_payloads_are_alertmanager_v4(run: tuple[Path, SimulationSummary]) -> None:
    out, _ = run
    payloads = _lines(out / "alerts.jsonl")
    assert payloads
    for payload in payloads:
        assert payload["version"] == "4"
        assert payload["status"] in ("firing", "resolved")
        assert payload["receiver"] == "alertflow"
        assert payload["truncatedAlerts"] == 0
        for alert in payload["alerts"]:
            assert HEX16.match(alert["fingerprint"])
            assert alert["fingerprint"] == alert_fingerprint(alert["labels"])
            assert alert["labels"]["severity"] in ("warning", "critical")
            assert {"alertname", "service", "cluster", "namespace"} <= set(alert["labels"])
            assert {"summary", "description"} <= set(alert["annotations"])
            assert RFC3339.match(alert["startsAt"])
            assert alert["generatorURL"].startswith("http://prometheus:9090/graph?g0.expr=")
            if alert["status"] == "firing":
                assert alert["endsAt"] == ZERO_TIME
            else:
                assert alert["endsAt"] > alert["startsAt"]


def test_firing_alerts_are_resent_with_the_same_start(run: tuple[Path, SimulationSummary]) -> None:
    out, _ = run
    sends: dict[tuple[str, str], list[str]] = {}
    for payload in _lines(out / "alerts.jsonl"):
        alert = payload["alerts"][0]
        sends.setdefault((alert["fingerprint"], alert["startsAt"]), []).append(alert["status"])
    assert any(statuses.count("firing") > 1 for statuses in sends.values())
    for statuses in sends.values():
        assert statuses[0] == "firing"
        assert statuses.count("resolved") <= 1
        assert "resolved" not in statuses[:-1]


def test_every_incident_has_a_known_root_and_alerts_that_were_sent(
    run: tuple[Path, SimulationSummary],
) -> None:
    _check_incidents(run[0])


def _check_incidents(out: Path) -> None:
    truth = json.loads((out / "ground_truth.json").read_text())
    sent = {payload["alerts"][0]["fingerprint"] for payload in _lines(out / "alerts.jsonl")}
    assert truth["incidents"]
    for incident in truth["incidents"]:
        assert incident["root_cause"] in truth["services"]
        assert incident["affected_services"][0] == incident["root_cause"]
        assert set(incident["affected_services"]) <= set(truth["services"])
        assert incident["cluster"] in truth["clusters"]
        assert incident["start"] < incident["end"]
        assert incident["alert_fingerprints"]
        assert set(incident["alert_fingerprints"]) <= sent


def test_incident_alerts_name_affected_services_and_root_alerts(
    run: tuple[Path, SimulationSummary],
) -> None:
    out, _ = run
    truth = json.loads((out / "ground_truth.json").read_text())
    labels = {
        p["alerts"][0]["fingerprint"]: p["alerts"][0]["labels"]
        for p in _lines(out / "alerts.jsonl")
    }
    for incident in truth["incidents"]:
        alerted = [labels[fp]["service"] for fp in incident["alert_fingerprints"]]
        assert set(alerted) <= set(incident["affected_services"])
        assert incident["root_cause"] in alerted
        assert all(
            labels[fp]["cluster"] == incident["cluster"] for fp in incident["alert_fingerprints"]
        )


def test_noise_alerts_belong_to_no_incident(run: tuple[Path, SimulationSummary]) -> None:
    _check_noise(run[0])


def _check_noise(out: Path) -> None:
    truth = json.loads((out / "ground_truth.json").read_text())
    sent = {payload["alerts"][0]["fingerprint"] for payload in _lines(out / "alerts.jsonl")}
    in_incidents = {fp for inc in truth["incidents"] for fp in inc["alert_fingerprints"]}
    assert truth["noise_alert_fingerprints"]
    assert set(truth["noise_alert_fingerprints"]) <= sent
    assert not set(truth["noise_alert_fingerprints"]) & in_incidents
    assert sent == in_incidents | set(truth["noise_alert_fingerprints"])


def test_truth_lists_every_sent_episode_under_its_fault(
    run: tuple[Path, SimulationSummary],
) -> None:
    out, _ = run
    truth = json.loads((out / "ground_truth.json").read_text())
    sent = {
        (a["fingerprint"], a["startsAt"])
        for payload in _lines(out / "alerts.jsonl")
        for a in payload["alerts"]
        if a["status"] == "firing"
    }
    listed = [tuple(e) for e in truth["noise_alert_episodes"]]
    for incident in truth["incidents"]:
        episodes = {tuple(e) for e in incident["alert_episodes"]}
        shared = {tuple(e) for e in incident["shared_episodes"]}
        # Episodes, not fingerprints, are a fault's: the fingerprints are theirs exactly.
        assert {fp for fp, _ in episodes | shared} == set(incident["alert_fingerprints"])
        listed += episodes
    assert {fp for fp, _ in truth["noise_alert_episodes"]} == set(
        truth["noise_alert_fingerprints"]
    )
    # Each sent episode is listed once: under the fault that explains it best, or as noise.
    assert sorted(listed) == sorted(sent)


def _spans(out: Path) -> list[tuple[str, dict]]:
    spans = []
    for request in _lines(out / "traces.jsonl"):
        for resource_spans in request["resourceSpans"]:
            attributes = resource_spans["resource"]["attributes"]
            service = next(
                a["value"]["stringValue"] for a in attributes if a["key"] == "service.name"
            )
            for scope_spans in resource_spans["scopeSpans"]:
                spans += [(service, span) for span in scope_spans["spans"]]
    return spans


def test_traces_follow_the_ground_truth_call_graph(run: tuple[Path, SimulationSummary]) -> None:
    _check_traces(run[0])


def _check_traces(out: Path) -> None:
    truth = json.loads((out / "ground_truth.json").read_text())
    edges = {tuple(edge) for edge in truth["edges"]}
    spans = _spans(out)
    by_id = {(span["traceId"], span["spanId"]): (service, span) for service, span in spans}
    assert {span["kind"] for _, span in spans} == {2, 3}
    crossings = set()
    for service, span in spans:
        assert HEX32.match(span["traceId"]) and HEX16.match(span["spanId"])
        assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])
        assert span["status"]["code"] in (0, 1, 2)
        parent = by_id.get((span["traceId"], span["parentSpanId"]))
        if span["kind"] == 2 and parent is not None:
            caller, client = parent
            assert client["kind"] == 3
            assert client["name"] == span["name"]
            assert (caller, service) in edges
            crossings.add((caller, service))
    assert len(crossings) >= 3
    assert any(span["status"]["code"] == 2 for _, span in spans)


def test_logs_are_plain_json_lines_with_error_bursts(run: tuple[Path, SimulationSummary]) -> None:
    out, _ = run
    truth = json.loads((out / "ground_truth.json").read_text())
    lines = _lines(out / "logs.jsonl")
    levels = [line["level"] for line in lines]
    assert set(levels) <= {"INFO", "WARN", "ERROR"}
    assert levels.count("INFO") > levels.count("ERROR") > 0
    for line in lines:
        assert RFC3339.match(line["timestamp"])
        assert line["service"] in truth["services"]
        assert line["trace_id"] == "" or HEX32.match(line["trace_id"])
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps)
    first = truth["incidents"][0]
    during = [
        line
        for line in lines
        if first["start"] <= line["timestamp"] <= first["end"]
        and line["service"] in first["affected_services"]
        and line["level"] != "INFO"
    ]
    assert during


@pytest.mark.parametrize("seed", range(6))
def test_ground_truth_holds_for_many_seeds(tmp_path: Path, seed: int) -> None:
    simulate(tmp_path, seed=seed, **SMALL)
    _check_incidents(tmp_path)
    _check_noise(tmp_path)
    _check_traces(tmp_path)


@pytest.mark.parametrize(
    "kwargs",
    [{"services": 2}, {"duration_s": 60}, {"step_s": 0}, {"clusters": 0}, {"incidents": -1}],
)
def test_rejects_what_it_cannot_simulate(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(SimulationError):
        simulate(tmp_path, **kwargs)


def test_creates_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "run"
    summary = simulate(out, seed=1, **SMALL)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert summary.ground_truth_path == out / "ground_truth.json"
