"""Call graph learned from spans, static topology files, and their use in correlation."""

import pytest
from alertflow.operators.correlation.incidents import IncidentGrouper, IncidentSettings
from alertflow.operators.correlation.topology import (
    ServiceGraph,
    TopologyError,
    read_static_topology,
)
from alertflow.schemas.records import AlertEvent, SpanEvent

from tests.test_correlation_table import anomaly

S = 10**9
T0 = 1_795_600_800 * S


def span(span_id, parent, service, kind="server", start=0):
    return SpanEvent(
        "t1", span_id, parent, service, "op", kind, T0 + start * S, T0 + start * S + 1, False
    )


@pytest.mark.parametrize(
    ("spans", "edges"),
    [
        ([span("a", "", "web", "client"), span("b", "a", "cart")], {("web", "cart")}),
        (
            [span("b", "a", "cart"), span("a", "", "web", "client")],
            {("web", "cart")},
        ),  # child first
        ([span("a", "", "web"), span("b", "a", "web")], set()),  # same service: no edge
        ([span("b", "zz", "cart")], set()),  # parent never seen
    ],
)
def test_edges_from_spans_in_any_order(spans, edges):
    graph = ServiceGraph()
    graph.observe(spans)
    assert set(graph.edges) == edges


def test_edges_age_out_but_static_ones_stay():
    graph = ServiceGraph(ttl_s=60)
    graph.add_static([("lb", "web")])
    graph.observe([span("a", "", "web", "client", 0), span("b", "a", "cart", start=1)])
    graph.observe([span("x", "", "other", start=3600)])
    assert set(graph.edges) == set()
    assert graph.callees("lb") == ["web"]


def test_pending_spans_are_bounded():
    graph = ServiceGraph(max_pending=10)
    graph.observe([span(f"s{i}", f"p{i}", "svc") for i in range(100)])
    assert len(graph._orphans) <= 10 and len(graph._span_service) <= 10


def test_distance_and_downstream():
    graph = ServiceGraph()
    graph.add_static([("web", "api"), ("api", "db"), ("web", "cache")])
    assert graph.distance("db", "web") == 2
    assert graph.distance("db", "cache") == 3
    assert graph.distance("db", "cache", limit=2) is None
    assert graph.downstream("web") == {"api", "db", "cache"}


def test_static_topology_files(tmp_path):
    matrix = tmp_path / "graph.csv"
    matrix.write_text(",web,api,db\nweb,0,1,0\napi,0,0,1.0\ndb,0,0,0\n")
    assert read_static_topology(matrix) == [("web", "api"), ("api", "db")]
    edges = tmp_path / "edges.csv"
    edges.write_text("caller,callee\nweb,api\n")
    assert read_static_topology(edges) == [("web", "api")]
    bad = tmp_path / "bad.csv"
    bad.write_text(",a\na,x\n")
    with pytest.raises(TopologyError, match="expected numbers"):
        read_static_topology(bad)


def alert(fp, service, start):
    return AlertEvent(
        fp,
        "firing",
        {"alertname": "X", "service": service, "severity": "warning"},
        {},
        T0 + start * S,
        None,
        ref=fp,
    )


def _grouper():
    grouper = IncidentGrouper("c", IncidentSettings(max_hops=2))
    grouper.graph.add_static([("web", "api"), ("api", "db"), ("batch", "queue")])
    return grouper


def test_overlapping_faults_in_different_parts_of_the_graph_stay_apart():
    grouper = _grouper()
    for event in (alert("1", "db", 0), alert("2", "queue", 30), alert("3", "api", 60)):
        grouper.on_alert(event, 0)
    groups = sorted(sorted(i.members) for i in grouper.incidents.values())
    assert groups == [["1", "3"], ["2"]]


def test_unknown_services_fall_back_to_time():
    grouper = _grouper()
    grouper.on_alert(alert("1", "db", 0), 0)
    grouper.on_alert(alert("2", "mystery", 30), 0)
    assert len(grouper.incidents) == 1


def test_caller_of_a_failing_dependency_ranks_below_it():
    grouper = _grouper()
    # The caller's alert fires first (monitoring lag), the dependency's 60 s later.
    out = grouper.on_alert(alert("1", "api", 0), 0) + grouper.on_alert(alert("2", "db", 60), 0)
    last = [d.record for d in out if d.stream == "incidents"][-1]
    assert [c.service for c in last.root_causes] == ["db", "api"]
    assert any("likely a symptom" in e for e in last.root_causes[1].evidence)
    assert not any("symptom" in e for e in last.root_causes[0].evidence)


def test_a_dependency_failing_only_later_does_not_make_a_symptom():
    grouper = _grouper()
    # 250 s: within cause_lag_s, so it joins (later than that it is a fault of its own). Its
    # metrics turned at 240 s, after api's alert: not an alert waiting out a `for:` (mode 5).
    out = grouper.on_alert(alert("1", "api", 0), 0)
    out += grouper.on_anomaly(anomaly("db", 240), 0)
    out += grouper.on_alert(alert("2", "db", 250), 0)
    last = [d.record for d in out if d.stream == "incidents"][-1]
    assert {m.id for m in last.members} >= {"1", "2"}
    assert last.root_causes[0].service == "api"


def test_alerts_wait_for_the_spans_of_their_moment():
    from alertflow.operators.alignment import SpanAlignment

    align = SpanAlignment(hold_ns=5 * S, lateness_ns=0)
    early, late = alert("1", "db", 0), alert("2", "db", 100)
    assert align.add_alert(late, wall_ns=0) == []
    assert align.add_alert(early, wall_ns=0) == []
    released = align.add_spans([span("a", "", "web", start=50)], wall_ns=S)
    assert [e.fingerprint for e in released] == ["1"]
    assert align.next_release_wall() == 5 * S
    assert [e.fingerprint for e in align.release(5 * S)] == ["2"]
    assert align.release(6 * S, everything=True) == []
