"""The severity classifier: learns a labelled rule, waits for data, survives pickling."""

import pickle
import random

import pytest
from alertflow.dataflows.feedback_step import FeedbackLogic
from alertflow.operators.decisions import Decision
from alertflow.operators.prediction.severity import SeverityClassifier
from alertflow.schemas.config_feedback import FeedbackConfig
from alertflow.schemas.outputs import Notification
from alertflow.schemas.records import FeedbackEvent


def synthetic(n: int, seed: int) -> list[tuple[dict[str, float], str]]:
    """Incidents whose severity is the rule 'breadth >= 3 is critical', amid other features."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = {
            "breadth": float(rng.randint(1, 6)),
            "duration_s": rng.uniform(0, 7200),
            "alerts": float(rng.randint(0, 8)),
            "anomalies": float(rng.randint(0, 5)),
            "logs": float(rng.randint(0, 3)),
            "alert_kinds": float(rng.randint(0, 4)),
            "critical_alerts": float(rng.randint(0, 2)),
            "rule_severity": float(rng.randint(0, 2)),
        }
        out.append((x, "critical" if x["breadth"] >= 3 else "warning"))
    return out


def trained(data, **kw) -> SeverityClassifier:
    model = SeverityClassifier(**kw)
    for i, (x, y) in enumerate(data):
        model.observe(f"inc{i}", x)
        model.learn(f"inc{i}", y)
    return model


def accuracy(model: SeverityClassifier, data) -> tuple[float, float]:
    """Accuracy where it speaks, and the share of incidents it speaks on."""
    said = []
    for i, (x, y) in enumerate(data):
        model.observe(f"test{i}", x)
        judgement = model.judge(f"test{i}")
        if judgement is not None:
            said.append(judgement.severity == y)
    return (sum(said) / len(said) if said else 0.0), len(said) / len(data)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_learns_a_rule_from_labelled_incidents(seed):
    model = trained(synthetic(300, seed), seed=seed)
    acc, coverage = accuracy(model, synthetic(300, seed + 100))
    assert acc >= 0.9 and coverage >= 0.6, (acc, coverage)


def test_says_nothing_before_enough_labels_and_counts_a_label_once():
    data = synthetic(40, 7)
    model = trained(data[:19], min_labelled=20, min_confidence=0.0)
    model.observe("probe", data[30][0])
    assert not model.ready and model.judge("probe") is None
    assert not model.learn("inc0", data[0][1])  # the same label again: no-op
    assert not model.learn("unknown", "critical") and not model.learn("inc1", "sev1")
    model.observe("inc19", data[19][0])
    assert model.learn("inc19", data[19][1]) and model.ready
    assert model.judge("probe") is not None


def test_pickled_model_predicts_the_same_and_a_seed_is_deterministic():
    data = synthetic(120, 9)
    model = trained(data, seed=5)
    clone = pickle.loads(pickle.dumps(model))
    twin = trained(data, seed=5)
    for i, (x, _) in enumerate(synthetic(30, 10)):
        for m in (model, clone, twin):
            m.observe(f"p{i}", x)
        assert model.judge(f"p{i}") == clone.judge(f"p{i}") == twin.judge(f"p{i}")


def _incident(incident, services, ts="2026-11-25T12:00:00Z"):
    members = [{"kind": "alert", "id": f"{incident}a", "labels": {"alertname": "A"}, "ts": ts,
                "last_seen": ts, "count": 1, "episodes": 1, "status": "firing"}]
    return Decision("incidents", incident, {
        "id": f"{incident}v", "incident_id": incident, "version": 1, "status": "open",
        "domain": "c1", "opened_at": ts, "updated_at": ts, "resolved_at": None,
        "services": services, "members": members, "root_causes": [], "severity": "warning",
        "summary": "s", "recommendations": []})


def _note(incident):
    return Decision("notifications", incident, Notification(
        id=f"{incident}-1", kind="incident_opened", incident_id=incident, incident_version=1,
        ts="2026-11-25T12:00:00Z", severity="warning", title="t", text="x"))


def test_the_feedback_step_annotates_pages_and_keeps_them():
    config = FeedbackConfig(severity_min_labelled=20, severity_confidence=0.6)
    logic = FeedbackLogic(None, config)
    for i in range(60):
        services = [f"s{k}" for k in range(1 + i % 5)]
        logic.on_batch([[_incident(f"i{i}", services)]])
        label = "critical" if len(services) >= 3 else "warning"
        logic.on_batch([[FeedbackEvent(f"i{i}", "true_positive", "ana", 0, severity=label)]])
    logic = FeedbackLogic(pickle.loads(pickle.dumps(logic.snapshot())), config)
    (batch,), _ = logic.on_batch([[_incident("wide", ["a", "b", "c", "d"]), _note("wide")]])
    note = batch[1].record
    assert len(batch) == 2 and note.suppressed_by is None  # the same pages, annotated
    assert note.learned_severity == "critical" and note.severity == "warning"
    assert note.learned_severity_why.startswith("severity model: critical (p=")
