"""The simulator's situations (issue 10): each one shows in the files, and stays deterministic."""

import datetime as dt
import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
from alertflow.operators.simulate import Situations, simulate
from alertflow.operators.simulate.alerts import AlertEpisode, alert_fingerprint
from alertflow.operators.simulate.webhook import GROUP_WAIT_NS, payloads

S = 10**9
START = 1_795_600_800 * S
RUN = {"seed": 11, "services": 16, "incidents": 4, "noise_alerts": 4, "duration_s": 3 * 3600}


def _payloads(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]


def _alerts(out: Path) -> list[dict]:
    return [a for p in _payloads(out) for a in p["alerts"]]


@pytest.fixture(scope="module")
def every(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("every")
    simulate(out, situations=Situations.every(), **RUN)
    return out


def test_situations_are_deterministic(tmp_path: Path) -> None:
    simulate(tmp_path / "a", situations=Situations.every(), **RUN)
    simulate(tmp_path / "b", situations=Situations.every(), **RUN)
    for name in ("alerts.jsonl", "ground_truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_no_situation_is_the_simulator_as_it_was(tmp_path: Path) -> None:
    simulate(tmp_path / "a", **RUN)
    simulate(tmp_path / "b", situations=Situations(), **RUN)
    for name in ("alerts.jsonl", "ground_truth.json", "metrics.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_heartbeats_and_node_alerts_are_noise(every: Path) -> None:
    truth = json.loads((every / "ground_truth.json").read_text())
    alerts = {a["fingerprint"]: a for a in _alerts(every)}
    names = {a["labels"]["alertname"] for a in alerts.values()}
    assert {"Watchdog", "InfoInhibitor"} <= names
    node = [a for a in alerts.values() if a["labels"].get("job") in ("node-exporter", "kubelet")]
    assert node and all("service" not in a["labels"] and a["labels"]["node"] for a in node)
    noise = set(truth["noise_alert_fingerprints"])
    assert {a["fingerprint"] for a in node} <= noise
    watchdog = [a for a in alerts.values() if a["labels"]["alertname"] == "Watchdog"]
    assert all(a["startsAt"] < truth["start"] and a["fingerprint"] in noise for a in watchdog)


def test_always_firing_alerts_started_before_the_run_and_are_resent(every: Path) -> None:
    truth = json.loads((every / "ground_truth.json").read_text())
    sends: dict[str, int] = {}
    for a in _alerts(every):
        if a["labels"]["alertname"].startswith(
            ("KubeDeploymentReplicas", "KubePersistentVolume", "KubeQuota")
        ):
            assert a["startsAt"] < truth["start"] and a["status"] == "firing"
            sends[a["fingerprint"]] = sends.get(a["fingerprint"], 0) + 1
    assert len(sends) == 2 and min(sends.values()) > 10


def test_overlapping_faults_start_during_another_next_to_it(every: Path) -> None:
    truth = json.loads((every / "ground_truth.json").read_text())
    edges = {tuple(e) for e in truth["edges"]}
    incidents = sorted(truth["incidents"], key=lambda i: i["start"])
    overlapping = 0
    for first, second in itertools.pairwise(incidents):
        during = second["start"] < first["end"] and second["cluster"] == first["cluster"]
        beside = any(
            (a, second["root_cause"]) in edges or (second["root_cause"], a) in edges
            for a in first["affected_services"]
        )
        overlapping += during and beside
    assert overlapping >= 1


def test_roots_own_alerts_start_later_with_a_long_for(tmp_path: Path) -> None:
    simulate(tmp_path / "short", **RUN)
    simulate(tmp_path / "long", situations=Situations(root_for_s=900), **RUN)

    def root_starts(out: Path) -> dict[str, str]:
        truth = json.loads((out / "ground_truth.json").read_text())
        roots = {i["root_cause"] for i in truth["incidents"]}
        return {
            a["fingerprint"]: a["startsAt"]
            for a in _alerts(out)
            if a["labels"].get("service") in roots and a["status"] == "firing"
        }

    short, long = root_starts(tmp_path / "short"), root_starts(tmp_path / "long")
    later = [fp for fp in long.keys() & short.keys() if long[fp] > short[fp]]
    assert later, "a root's alert should start later with a longer for:"


def test_a_cold_start_has_its_first_fault_before_any_baseline(every: Path) -> None:
    truth = json.loads((every / "ground_truth.json").read_text())
    start = dt.datetime.fromisoformat(truth["start"])
    first = min(dt.datetime.fromisoformat(i["start"]) for i in truth["incidents"])
    # Within 10 min: 20 samples at 30 s, far inside a detector's 150-sample warm-up.
    assert dt.timedelta(minutes=2) <= first - start <= dt.timedelta(minutes=10)


def test_without_a_cold_start_the_first_fault_waits(tmp_path: Path) -> None:
    simulate(tmp_path, situations=replace(Situations.every(), cold_start=False), **RUN)
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    start = dt.datetime.fromisoformat(truth["start"])
    first = min(dt.datetime.fromisoformat(i["start"]) for i in truth["incidents"])
    assert first - start >= dt.timedelta(seconds=RUN["duration_s"] * 0.08)


def _episode(name: str, service: str, start_s: int, end_s: int | None) -> AlertEpisode:
    labels = {"alertname": name, "cluster": "c", "service": service, "severity": "warning"}
    return AlertEpisode(labels, {"summary": name}, START + start_s * S,
                        None if end_s is None else START + end_s * S,
                        alert_fingerprint(labels), "", ("INC-001",))  # fmt: skip


@pytest.mark.parametrize(
    ("episodes", "interval_s", "expected"),
    [
        pytest.param(
            [_episode("Errors", "a", 0, None), _episode("Errors", "b", 40, None)],
            300,
            [(30, ["a"]), (330, ["a", "b"])],
            id="a-later-alert-of-the-group-waits-for-the-next-group-interval",
        ),
        pytest.param(
            [_episode("Errors", "a", 0, None), _episode("Latency", "b", 40, None)],
            300,
            [(30, ["a"]), (70, ["b"])],
            id="other-groups-are-not-held",
        ),
        pytest.param(
            [_episode("Errors", "a", 0, None), _episode("Errors", "b", 40, None)],
            0,
            [(30, ["a"]), (70, ["b"])],
            id="without-batching-one-payload-per-alert",
        ),
    ],
)
def test_group_batching(episodes, interval_s, expected) -> None:
    sent = payloads(episodes, START + 400 * S, START, interval_s * S)
    got = [((at - START) // S, sorted(a["labels"]["service"] for a in body["alerts"]))
           for at, body in sent if (at - START) // S < 400]  # fmt: skip
    assert got[: len(expected)] == expected
    assert GROUP_WAIT_NS == 30 * S


def _first_sends(out: Path) -> list[str]:
    firsts: dict[str, str] = {}
    for a in _alerts(out):
        if a["status"] == "firing":
            firsts.setdefault(a["fingerprint"], a["startsAt"])
    return list(firsts.values())  # startsAt, in order of first arrival


def test_batched_alerts_arrive_after_alerts_that_started_later(every: Path, tmp_path) -> None:
    arrived = _first_sends(every)
    assert any(later < earlier for earlier, later in itertools.pairwise(arrived))
    simulate(tmp_path, situations=replace(Situations.every(), group_interval_s=0), **RUN)
    unbatched = [t for t in _first_sends(tmp_path) if t > "2026-11-25T10:00:00"]
    assert unbatched == sorted(unbatched)


def test_situations_replace_keeps_the_rest() -> None:
    assert replace(Situations.every(), overlapping=False).group_interval_s == 300


def test_cli_situation_options(tmp_path: Path) -> None:
    from alertflow.dataflows.cli import main

    argv = ["simulate", "--seed", "4", "--hours", "1", "--services", "8", "--noise-alerts", "0"]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    assert main([*argv, "--out", str(tmp_path / "infra"), "--infrastructure"]) == 0
    plain = {a["labels"]["alertname"] for a in _alerts(tmp_path / "plain")}
    infra = {a["labels"]["alertname"] for a in _alerts(tmp_path / "infra")}
    assert "Watchdog" not in plain and "Watchdog" in infra


def test_an_alert_resolving_before_its_group_tick_is_never_sent() -> None:
    from alertflow.operators.simulate.webhook import first_sends, sent

    episodes = [_episode("Errors", "a", 0, None), _episode("Errors", "b", 40, 100)]
    first = first_sends(episodes, 300 * S)
    assert [e.labels["service"] for e in sent(episodes, START + 400 * S, START, first)] == ["a"]
    assert [e.labels["service"] for e in sent(episodes, START + 400 * S, START)] == ["a", "b"]
