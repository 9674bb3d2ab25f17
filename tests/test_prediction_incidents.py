"""Predicted incidents and the recommendation catalogue."""

import pytest
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.prediction.breach import PredictionSignal
from alertflow.operators.prediction.predicted_incidents import PredictedIncidents
from alertflow.operators.prediction.recommendations import (
    Catalogue,
    CatalogueError,
    TrendEvidence,
    as_text,
)
from alertflow.schemas.config_prediction import RecommendationRule
from alertflow.schemas.outputs import Incident

NS = 10**9
LABELS = {"service": "db", "cluster": "c1"}


def signal(kind, ts_s, breach_s=None, series="disk{}"):
    return PredictionSignal(
        kind, series, "disk", LABELS, ts_s * NS, "disk > 0.9", 0.9,
        None if breach_s is None else breach_s * NS, "pred-1", ("expand the volume (evidence)",),
    )  # fmt: skip


def anomaly(ts_s, series="latency{}", service="db"):
    return AnomalySignal(series, "latency", {"service": service}, ts_s * NS, 9.0, 1.0, 0.9,
                         "warning", ("holt",))  # fmt: skip


@pytest.mark.parametrize(
    "events, statuses, outcome",
    [
        ([signal("predicted", 0, 3600), signal("breached", 3000)], ["open", "resolved"], "happened"),
        ([signal("predicted", 0, 3600), signal("withdrawn", 1800)], ["open", "resolved"], "averted"),
        # Past its breach time plus the hour's grace, nothing came: averted.
        ([signal("predicted", 0, 3600), anomaly(7300, service="web")], ["open", "resolved"], "averted"),
        ([signal("predicted", 0, 3600), signal("predicted", 900, 3000)], ["open"], None),
        ([signal("breached", 10)], [], None),  # no prediction open: nothing to close
    ],
)
def test_lifecycle(events, statuses, outcome):
    p = PredictedIncidents("c1")
    out = []
    for e in events:
        out += p.on_signal(e) if isinstance(e, PredictionSignal) else p.observe(e)
    records = [Incident.model_validate(d.record.model_dump()) for d in out]
    assert [r.status for r in records] == statuses
    if records:
        assert records[-1].outcome == outcome
        assert records[0].members[0].kind == "prediction"
        assert records[0].recommendations == ["expand the volume (evidence)"]
        assert len({r.incident_id for r in records}) == 1


def test_what_follows_on_the_service_joins_once():
    p = PredictedIncidents("c1")
    p.on_signal(signal("predicted", 0, 3600))
    first = p.observe(anomaly(600))
    again = p.observe(anomaly(660))
    other = p.observe(anomaly(700, series="x{}", service="web"))
    assert [d.record.status for d in first] == ["updated"] and again == [] and other == []
    assert [m.kind for m in first[0].record.members] == ["prediction", "anomaly"]
    closed = p.on_signal(signal("breached", 3000))
    assert closed[0].record.members[1].count == 2


def test_the_correlator_routes_predictions_beside_the_grouper():
    c = DomainCorrelator("c1", IncidentSettings(lateness_s=0.0))
    out = c.on_events([signal("predicted", 0, 3600)], wall_ns=0)
    out += c.on_events([anomaly(600)], wall_ns=0)
    out += c.on_events([signal("breached", 3000)], wall_ns=0)
    out += c.finish(wall_ns=0)
    predicted = [d.record for d in out if d.record.members[0].kind == "prediction"]
    assert [r.status for r in predicted] == ["open", "updated", "resolved"]
    assert predicted[-1].outcome == "happened"


def ev(name="disk_used_ratio", trend=0.02, rising=0.9, direction="above", labels=None):
    return TrendEvidence(name, labels or {}, 0.8, trend, rising, direction, 0.9, 3600.0)


@pytest.mark.parametrize(
    "evidence, ids",
    [
        (ev(), ["disk-exhaustion"]),
        (ev(trend=-0.02), []),  # moving away from the threshold
        (ev("container_memory_rss"), ["memory-leak"]),
        (ev("container_memory_rss", rising=0.5), []),  # not steady growth: not leak-like
        (ev("node_cpu_utilisation"), ["cpu-saturation"]),
        (ev("kafka_consumer_lag"), ["queue-backlog"]),
        (ev("http_error_ratio"), ["error-budget"]),
        (ev("cert_days_left", trend=-1, direction="below"), ["certificate-expiry"]),
        (ev("req", labels={"version": "v2"}), ["bad-deploy"]),
    ],
)
def test_patterns(evidence, ids):
    recs = Catalogue.load().for_forecast(evidence)
    assert [r.id for r in recs] == ids
    assert all(r.evidence and r.actions for r in recs)


def test_users_extend_and_override_the_catalogue():
    extra = [
        RecommendationRule(id="disk-exhaustion", pattern="exhaustion", match={"__name__": "=~disk.*"},
                           actions=["page the storage team"]),
        RecommendationRule(id="own", pattern="saturation_trend", match={"team": "x"}, actions=["a"]),
    ]  # fmt: skip
    cat = Catalogue.load(extra)
    recs = cat.for_forecast(ev(labels={"team": "x"}))
    assert [(r.id, r.actions) for r in recs] == [
        ("disk-exhaustion", ["page the storage team"]),
        ("own", ["a"]),
    ]
    assert as_text(recs)[0].startswith("page the storage team (running out")


def test_unknown_pattern_is_refused():
    with pytest.raises(CatalogueError, match="unknown pattern 'guess'"):
        Catalogue([RecommendationRule(id="x", pattern="guess", actions=["a"])])


def test_deploy_alerts_recommend_a_rollback():
    recs = Catalogue.load().for_alerts([("KubeDeploymentRolloutStuck", {}), ("X", {})])
    assert [r.id for r in recs] == ["bad-deploy"]
    assert Catalogue.load().for_alerts([("HighLatency", {})]) == []
