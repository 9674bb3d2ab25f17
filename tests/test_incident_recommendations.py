"""Catalogue recommendations on regular incidents (issue 14), with the evidence that matched."""

from alertflow.operators.correlation.incidents import IncidentGrouper, IncidentSettings
from alertflow.operators.prediction.recommendations import Catalogue
from alertflow.schemas.config_prediction import RecommendationRule
from alertflow.schemas.records import AlertEvent

S = 10**9
T0 = 1_795_600_800 * S


def alert(fp: str, name: str, start: int = 0, **labels: str) -> AlertEvent:
    return AlertEvent(
        fingerprint=fp,
        status="firing",
        labels={"alertname": name, "service": "api", "severity": "warning", **labels},
        annotations={},
        starts_ns=T0 + start * S,
        ends_ns=None,
        ref=f"alerts:{fp}",
    )


def recommendations(events: list[AlertEvent], catalogue: Catalogue | None) -> list[str]:
    g = IncidentGrouper("c", IncidentSettings(catalogue=catalogue))
    out = [d for e in events for d in g.on_alert(e, 0) if d.stream == "incidents"]
    return list(out[-1].record.recommendations)


def test_an_alert_named_for_a_catalogued_resource_gets_its_actions_and_why():
    lines = recommendations([alert("a", "DiskAlmostFull", host="n1")], Catalogue.load())
    assert any(line.startswith("Expand the volume") for line in lines)
    assert any('alert DiskAlmostFull{host="n1",service="api",severity="warning"} is one of '
               "the series disk-exhaustion watches" in line for line in lines)  # fmt: skip


def test_a_deploy_and_a_cpu_alert_each_bring_their_rule_deploy_first():
    events = [alert("a", "KubeCPUThrottlingHigh"), alert("b", "Errors", start=30, version="v42")]
    lines = recommendations(events, Catalogue.load())
    catalogued = [line for line in lines if not line.startswith("Start with")]
    assert catalogued[0].startswith("Roll back the deploy") and "on version v42" in catalogued[0]
    assert any("Scale out the workload" in line and "KubeCPUThrottlingHigh" in line
               for line in catalogued)  # fmt: skip


def test_an_alert_no_rule_selects_gets_no_catalogue_line():
    lines = recommendations([alert("a", "TargetDown")], Catalogue.load())
    assert all(line.startswith(("Start with", "Runbook")) for line in lines)


def test_without_a_catalogue_the_incident_is_as_before():
    lines = recommendations([alert("a", "DiskAlmostFull")], None)
    assert not any("Expand the volume" in line for line in lines)


def test_a_users_rule_applies_to_incidents_too():
    rule = RecommendationRule(
        id="kafka-lag", pattern="backlog_growth", match={"__name__": "=~kafka.*"},
        actions=["Add partitions and consumers to the lagging group."],
    )  # fmt: skip
    lines = recommendations([alert("a", "KafkaConsumerLag")], Catalogue.load([rule]))
    assert any(line.startswith("Add partitions") and "kafka-lag" in line for line in lines)


def test_an_anomalous_series_is_matched_by_its_metric_name_as_written():
    cat = Catalogue.load()
    (rec,) = cat.for_incident([("anomaly", "container_memory_rss", {"pod": "p1"})])
    assert rec.id == "memory-leak"
    assert rec.evidence == 'anomaly container_memory_rss{pod="p1"} is one of the series memory-leak watches'
    # An alert is matched lower-cased (CamelCase names); a series name is taken as it is.
    assert cat.for_incident([("anomaly", "DISK_used", {})]) == []
