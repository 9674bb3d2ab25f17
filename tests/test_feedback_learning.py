"""Verdicts hold back pages of what operators keep calling noise, and only that."""

import pickle
import subprocess
import sys

import orjson
import pytest
from alertflow.dataflows.feedback_step import FeedbackLogic
from alertflow.operators.decisions import Decision
from alertflow.operators.prediction.feedback import (
    FeedbackLearner,
    FeedbackSettings,
    incident_kinds,
)
from alertflow.schemas.config_feedback import FeedbackConfig
from alertflow.schemas.outputs import Notification
from alertflow.schemas.records import FeedbackEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.flowkit import alert_line, read_jsonl

H = 3600 * 10**9
T10 = 1_795_600_800 * 10**9  # 2026-11-25T10:00:00Z


def alert(name, fp="f"):
    return ("alert", fp, {"alertname": name})


def learner_with(history, **kw):
    """history: (incident id, [alert names], verdict, hour)."""
    learner = FeedbackLearner(FeedbackSettings(**kw))
    for incident, names, verdict, hour in history:
        learner.observe_incident(incident, [alert(n, f"{incident}-{n}") for n in names])
        learner.learn(FeedbackEvent(incident, verdict, "ana", hour * H))
    return learner


NOISY = [(f"i{i}", ["Throttle"], "noise", i) for i in range(3)]


@pytest.mark.parametrize(("history", "kinds", "hour", "muted"), [
    (NOISY, ["alert:Throttle"], 10, True),
    (NOISY[:1], ["alert:Throttle"], 10, False),  # one verdict is not enough
    (NOISY, ["alert:Throttle", "alert:DiskFull"], 10, False),  # an unjudged kind beside it
    (NOISY, ["alert:Throttle"], 0, False),  # verdicts given later do not judge the past
    (NOISY, ["alert:Throttle"], 24 * 60, False),  # faded after weeks without verdicts
    ([*NOISY, ("t1", ["Throttle"], "true_positive", 4), ("t2", ["Throttle"], "true_positive", 5)],
     ["alert:Throttle"], 10, False),  # the operator changed their view of it
    # True incidents where it rode along with a real alert do not clear it ...
    ([*NOISY, *[(f"t{i}", ["Throttle", "DiskFull"], "true_positive", 4 + i) for i in range(3)]],
     ["alert:Throttle"], 10, True),
    # ... and they keep the real alert's pages coming.
    ([*NOISY, *[(f"t{i}", ["Throttle", "DiskFull"], "true_positive", 4 + i) for i in range(3)]],
     ["alert:DiskFull"], 10, False),
    ([], [], 10, False),
])
def test_what_is_held(history, kinds, hour, muted):
    learner = learner_with(history)
    assert (learner.why_muted(kinds, hour * H) is not None) is muted


def test_the_reason_names_the_kind_the_count_and_who():
    learner = learner_with(NOISY)
    why = learner.why_muted(["alert:Throttle"], 10 * H)
    assert why == "feedback: Throttle marked noise in 3 of the last 3 verdicts (by ana)"


def test_the_same_verdict_twice_counts_once_and_a_changed_mind_replaces_it():
    learner = learner_with(NOISY[:1], min_verdicts=2)
    learner.learn(FeedbackEvent("i0", "noise", "ana", 2 * H))  # re-sent
    assert learner.why_muted(["alert:Throttle"], 3 * H) is None
    learner.learn(FeedbackEvent("i0", "noise", "bo", 2 * H))  # a second person agrees
    assert learner.why_muted(["alert:Throttle"], 3 * H) is not None
    learner.learn(FeedbackEvent("i0", "true_positive", "bo", 2 * H))  # and thinks again
    assert learner.why_muted(["alert:Throttle"], 3 * H) is None


def test_verdicts_on_fingerprints_series_and_unseen_incidents():
    learner = FeedbackLearner(FeedbackSettings(min_verdicts=1))
    learner.observe_incident("i1", [alert("Throttle", "fp1")])
    assert learner.learn(FeedbackEvent("fp1", "noise", "ana", H))  # an alert's fingerprint
    assert learner.why_muted(["alert:Throttle"], 2 * H) is not None
    assert learner.learn(FeedbackEvent('cpu{host="a"}', "false_positive", "ana", H))
    assert learner.why_muted(['series:cpu{host="a"}'], 2 * H) is not None
    assert not learner.learn(FeedbackEvent("later", "noise", "ana", H))  # waits for it
    learner.observe_incident("later", [alert("DiskFull")])
    assert learner.why_muted(["alert:DiskFull"], 2 * H) is not None


def test_kinds_are_alert_names_or_else_series_and_templates():
    anomaly = ("anomaly", 'anomaly:cpu{host="a"}', {})
    assert incident_kinds([alert("A"), anomaly]) == ("alert:A",)
    assert incident_kinds([anomaly]) == ('series:cpu{host="a"}',)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["A", "B", "C"]),
                          st.sampled_from(["noise", "false_positive", "true_positive"]),
                          st.sampled_from(["ana", "bo"]), st.integers(0, 10**6)), max_size=80))
def test_any_verdict_stream_keeps_state_bounded_and_answers(events):
    learner = FeedbackLearner(FeedbackSettings(max_verdicts_per_kind=5, max_targets=8))
    for incident, name, verdict, by, second in events:
        learner.observe_incident(f"i{incident}", [alert(name, f"fp{incident}")])
        learner.learn(FeedbackEvent(f"i{incident}", verdict, by, second * 10**9))
        learner.learn(FeedbackEvent(f"unknown{incident}", verdict, by, second * 10**9))
    assert len(learner.targets) <= 8 and len(learner.waiting) <= 8
    assert all(len(book) <= 5 for book in learner.verdicts.values())
    for name in "ABC":
        why = learner.why_muted([f"alert:{name}"], 10**15)
        assert why is None or why.startswith(f"feedback: {name} marked noise")


def _note(incident, kind, version, ts="2026-11-25T12:00:00Z"):
    return Decision("notifications", incident, Notification(
        id=f"{incident}-{version}", kind=kind, incident_id=incident, incident_version=version,
        ts=ts, severity="critical", title="t", text="x"))


def _incident(incident, names, status="open", ts="2026-11-25T12:00:00Z"):
    members = [{"kind": "alert", "id": f"{incident}{n}", "labels": {"alertname": n}} for n in names]
    return Decision("incidents", incident, {
        "id": f"{incident}v", "incident_id": incident, "version": 1, "status": status,
        "domain": "c1", "opened_at": ts, "updated_at": ts, "resolved_at": None,
        "services": ["api"], "members": [{**m, "ts": ts, "last_seen": ts, "count": 1,
                                           "episodes": 1, "status": "firing"} for m in members],
        "root_causes": [], "severity": "critical", "summary": "s", "recommendations": []})


def test_the_step_holds_the_opening_and_its_resolution_and_survives_a_restart():
    logic = FeedbackLogic(None, FeedbackConfig(min_verdicts=2))
    for i in range(2):
        logic.on_batch([[_incident(f"old{i}", ["Throttle"], ts="2026-11-25T10:00:00Z")]])
        logic.on_batch([[FeedbackEvent(f"old{i}", "noise", "ana", T10 + H)]])
    logic = FeedbackLogic(pickle.loads(pickle.dumps(logic.snapshot())), FeedbackConfig())
    (batch,), _ = logic.on_batch([[_incident("new", ["Throttle"]), _note("new", "incident_opened", 1)]])
    assert batch[1].record.suppressed_by.startswith("feedback: Throttle marked noise in 2")
    (batch,), _ = logic.on_batch([[_note("new", "incident_resolved", 2)]])
    assert batch[0].record.suppressed_by.startswith("its opening was held back")


def test_a_held_incident_that_grows_a_real_alert_pages_then():
    logic = FeedbackLogic(None, FeedbackConfig(min_verdicts=1))
    logic.on_batch([[_incident("old", ["Throttle"], ts="2026-11-25T10:00:00Z")]])
    logic.on_batch([[FeedbackEvent("old", "noise", "ana", T10 + H)]])
    (batch,), _ = logic.on_batch([[_incident("new", ["Throttle"]), _note("new", "incident_opened", 1)]])
    assert batch[1].record.suppressed_by is not None
    (batch,), _ = logic.on_batch([[_incident("new", ["Throttle", "DiskFull"])]])
    (_, page) = batch
    assert page.stream == "notifications" and page.record.kind == "incident_opened"
    assert page.record.suppressed_by is None


def test_a_run_with_feedback_holds_back_the_pages_of_noise(tmp_path):
    alerts = []
    for hour in range(10, 16):
        start = f"2026-11-25T{hour}:00:00Z"
        end = f"2026-11-25T{hour}:05:00Z"
        fp = f"{hour:016x}"
        alerts += [alert_line(fp, "firing", start, service="api", severity="critical",
                              name="SidecarOOMKilled"),
                   alert_line(fp, "resolved", start, end, service="api", severity="critical",
                              name="SidecarOOMKilled")]
    verdicts = [orjson.dumps({"target": f"{hour:016x}", "verdict": "noise", "by": "ana",
                              "at": f"2026-11-25T{hour}:30:00Z"}) for hour in (10, 11)]
    (tmp_path / "alerts.jsonl").write_bytes(b"\n".join(alerts) + b"\n")
    (tmp_path / "feedback.jsonl").write_bytes(b"\n".join(verdicts) + b"\n")
    done = subprocess.run(
        [sys.executable, "-m", "alertflow.dataflows.cli", "run",
         "--input", f"alerts={tmp_path / 'alerts.jsonl'}",
         "--input", f"feedback={tmp_path / 'feedback.jsonl'}", "--output", str(tmp_path / "out"),
         # Polls of both files advance together in event time, as live streams would.
         "--set", "runtime.file_pace_s=600",
         # Each of these lone criticals ends alone: the learned rule would send the next ones
         # to the noise digest before any verdict (tests/test_noise_digest.py); this test is
         # about what the verdicts alone hold back.
         "--set", "correlation.lone_critical_streak=null"],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    notes = read_jsonl(tmp_path / "out" / "notifications.jsonl")
    opened = sorted((n["ts"], n["suppressed_by"]) for n in notes if n["kind"] == "incident_opened")
    assert len(opened) == 6
    assert [held for _, held in opened[:2]] == [None, None]
    assert all(held and "SidecarOOMKilled marked noise in 2" in held for _, held in opened[2:]), opened
