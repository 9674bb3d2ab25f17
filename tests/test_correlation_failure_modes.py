"""Issue 10's failure modes, one table each: a hand-made graph and alert sequence, the
expected incidents and top cause. Helpers are those of ``test_correlation_table``.
"""

import pytest
from alertflow.operators.correlation.alert_clusters import AlertClusters, alert_words
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.schemas.records import AlertEvent

from tests.test_correlation_table import CHAIN, T0, S, alert, correlate, groups, latest

WEEK = 7 * 24 * 3600


def labelled(fp, start, status="firing", end=None, **labels):
    """An alert with exactly these labels (plus a cluster)."""
    return AlertEvent(
        fingerprint=fp,
        status=status,
        labels={"cluster": "c", "severity": "warning", **labels},
        annotations={},
        starts_ns=T0 + start * S,
        ends_ns=None if end is None else T0 + end * S,
        ref=f"alerts:{fp}:{status}:{start}",
    )


def top_causes(decisions) -> dict[str, str]:
    """First member id of each incident -> its top-ranked cause."""
    return {
        sorted(m.id for m in inc.members)[0]: (
            inc.root_causes[0].service if inc.root_causes else ""
        )
        for inc in latest(decisions)
    }


# --------------------------------------------------------------------------- 8: bugs


@pytest.mark.parametrize(
    ("labels", "summary", "expected"),
    [
        pytest.param(
            {"alertname": "HighErrorRate", "service": "checkout-service"},
            "checkout-service is failing requests",
            {"high", "error", "rate", "is", "failing", "requests"},
            id="hyphenated-service-leaves-no-fragments",
        ),
        pytest.param(
            {"alertname": "HighErrorRate", "service": "auth_api", "namespace": "shop-prod"},
            "auth_api in shop-prod is failing requests",
            {"high", "error", "rate", "in", "is", "failing", "requests"},
            id="underscored-service-and-namespace-leave-no-fragments",
        ),
    ],
)
def test_alert_words_drop_where_the_alert_is(labels, summary, expected):
    assert alert_words(labels, {"summary": summary}) == frozenset(expected)


def test_one_alert_name_on_hyphenated_services_is_one_kind():
    clusters = AlertClusters(threshold=0.6)
    kinds = {
        clusters.assign(
            {"alertname": "HighErrorRate", "service": name},
            {"summary": f"{name} is failing requests"},
        )
        for name in ("checkout-service", "payment-gateway-v2", "cart", "user-profile-api")
    }
    assert len(kinds) == 1


@pytest.mark.parametrize(
    ("events", "expected_groups", "firing"),
    [
        pytest.param(
            [
                alert("1", "db", 0),
                alert("old", "api", -3 * WEEK),  # always firing, first seen now
                alert("1", "db", 0, "resolved", 600),
                alert("2", "web", 3 * 3600),
                alert("old", "api", -3 * WEEK),  # its re-send hours later
            ],
            [["1"], ["2"], ["old"]],
            {"old"},
            id="always-firing-alert-from-weeks-ago-does-not-expire-on-arrival",
        ),
    ],
)
def test_last_seen_is_arrival_not_start(events, expected_groups, firing):
    # In arrival order (no reordering), as a live stream delivers them.
    decisions = correlate(events, CHAIN, lateness_s=0.0, max_hops=0)
    assert groups(decisions) == expected_groups
    (old,) = [i for i in latest(decisions) if any(m.id == "old" for m in i.members)]
    assert {m.id for m in old.members if m.status == "firing"} == firing


def test_old_alert_seen_now_is_firing_until_its_horizon():
    settings = IncidentSettings(lateness_s=0.0)
    correlator = DomainCorrelator("c", settings)
    correlator.on_events([alert("now", "db", 0), alert("old", "api", -3 * WEEK)], wall_ns=0)
    member = correlator.grouper.incidents[correlator.grouper.by_fingerprint["old"]].members["old"]
    assert member.status == "firing"
    assert member.last_ns == T0


# --------------------------------------------------------------------------- 3: unplaceable

SPLIT = [*CHAIN, ("batch", "queue")]  # web -> api -> db, and batch -> queue apart


def node_alert(fp, start, name="NodeMemoryPressure", **labels):
    """A node-exporter alert, as kube-prometheus labels it."""
    labels = {"job": "node-exporter", "instance": "10.0.0.7:9100", **labels}
    return labelled(fp, start, alertname=name, **labels)


def on_node(fp, service, start, node):
    """A service's alert whose labels say which node it runs on."""
    return labelled(fp, start, alertname=f"{service.title()}Errors", service=service, node=node)


@pytest.mark.parametrize(
    ("events", "expected", "causes"),
    [
        pytest.param(
            [
                alert("1", "db", 0),
                labelled("wd", -WEEK, alertname="Watchdog", severity="none"),
                labelled("ii", 10, alertname="InfoInhibitor", severity="none", namespace="x"),
                alert("2", "api", 30),
            ],
            [["1", "2"]],
            {"1": "db"},
            id="watchdog-and-info-inhibitor-are-never-members",
        ),
        pytest.param(
            [alert("1", "db", 0), node_alert("n", 20), alert("2", "queue", 40)],
            [["1"], ["2"], ["n"]],
            {"1": "db", "2": "queue", "n": "node-exporter"},
            id="node-alert-without-a-node-stays-apart-and-bridges-nothing",
        ),
        pytest.param(
            [
                alert("1", "db", 0),
                labelled("x", 20, alertname="ClusterDown"),
                alert("2", "api", 40),
            ],
            [["1", "2"], ["x"]],
            {"1": "db", "x": "unknown"},
            id="alert-without-service-is-not-zero-hops-from-everything",
        ),
        pytest.param(
            [
                alert("1", "db", 0),
                on_node("2", "api", 30, "n1"),
                node_alert("n", 60, node="n1"),
                node_alert("m", 70, name="NodeFilesystemAlmostFull", node="n2"),
            ],
            [["1", "2", "n"], ["m"]],
            {"1": "db", "m": "node n2"},
            id="node-alert-joins-the-fault-of-a-service-on-its-node",
        ),
        pytest.param(
            [
                on_node("0", "api", 0, "n1"),
                alert("1", "db", 60),
                node_alert("n", 320, node="n1"),
                node_alert("k", 330, name="KubeletTooManyPods", job="kubelet", node="n1"),
            ],
            [["0", "1", "k", "n"]],
            {"0": "db"},
            id="kubelet-and-node-exporter-alerts-relate-through-the-node",
        ),
    ],
)
def test_unplaceable_alerts(events, expected, causes):
    decisions = correlate(events, SPLIT)
    assert groups(decisions) == expected
    assert top_causes(decisions) == causes


def test_infrastructure_is_not_the_root_cause_by_onset_alone():
    from alertflow.operators.correlation.alert_dedup import AlertMember
    from alertflow.operators.correlation.rootcause import rank_by_onset
    from alertflow.operators.correlation.topology import ServiceGraph

    graph = ServiceGraph()
    graph.add_static(CHAIN)
    node = AlertMember("n", {"alertname": "NodeDiskPressure", "job": "node-exporter",
                             "node": "n1"}, {}, 0, 0, "firing")  # fmt: skip
    api = AlertMember("a", {"alertname": "ApiErrors", "service": "api", "node": "n1"}, {},
                      60 * S, 60 * S, "firing")  # fmt: skip
    db = AlertMember("d", {"alertname": "DbDown", "service": "db"}, {}, 90 * S, 90 * S, "firing")
    ranked = [c.service for c in rank_by_onset([node, api, db], graph)]
    assert ranked[0] == "db"
    assert ranked.index("node n1") > 0


def test_an_anomaly_without_a_service_is_not_evidence_of_every_incident():
    from tests.test_correlation_table import anomaly

    lost = anomaly("db", 20)
    lost = type(lost)(**{**{f: getattr(lost, f) for f in lost.__dataclass_fields__},
                         "labels": {"cluster": "c"}, "series": "disk_io{}"})  # fmt: skip
    decisions = correlate([alert("1", "db", 0), lost, alert("2", "api", 40)], CHAIN)
    assert groups(decisions) == [["1", "2"]]


# --------------------------------------------------------------------------- 2: sessions


def errors(fp, service, start, status="firing", end=None, **labels):
    """One kind of alert on any service: HighErrorRate, with its usual summary."""
    return AlertEvent(
        fingerprint=fp,
        status=status,
        labels={
            "alertname": "HighErrorRate",
            "service": service,
            "cluster": "c",
            "severity": "critical",
            **labels,
        },
        annotations={"summary": f"{service} is failing requests"},
        starts_ns=T0 + start * S,
        ends_ns=None if end is None else T0 + end * S,
        ref=f"alerts:{fp}:{status}:{start}",
    )


@pytest.mark.parametrize(
    ("events", "expected", "causes"),
    [
        pytest.param(
            [errors("1", "db", 0), errors("q", "queue", 100), alert("2", "api", 650)],
            [["1", "q"], ["2"]],
            {"1": "db", "2": "api"},
            id="a-storm-member-does-not-extend-the-session",
        ),
        pytest.param(
            [
                labelled("1", 0, alertname="DbDown", service="db", node="n1"),
                labelled("1", 0, "resolved", 100, alertname="DbDown", service="db", node="n1"),
                labelled("f", 60, alertname="CPUThrottlingHigh", service="queue", node="n1"),
                labelled(
                    "f",
                    60,
                    "resolved",
                    150,
                    alertname="CPUThrottlingHigh",
                    service="queue",
                    node="n1",
                ),
                labelled("f", 400, alertname="CPUThrottlingHigh", service="queue", node="n1"),
                alert("2", "api", 450),
            ],
            [["1", "f"], ["2"]],
            {"1": "db", "2": "api"},
            id="a-flapping-bystander-does-not-keep-the-incident-joinable",
        ),
        pytest.param(
            [alert("1", "db", 0), alert("2", "api", 500), alert("3", "web", 1000)],
            [["1", "2", "3"]],
            {"1": "db"},
            id="the-fault-s-own-alerts-still-extend-it",
        ),
    ],
)
def test_only_the_fault_extends_its_session(events, expected, causes):
    decisions = correlate(events, SPLIT)
    assert groups(decisions) == expected
    assert top_causes(decisions) == causes


# --------------------------------------------------------------------------- 1: chaining

FORK = [("web", "api"), ("api", "db"), ("report", "db"), ("web", "search")]
LINE = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")]  # a calls b ... calls e


@pytest.mark.parametrize(
    ("edges", "events", "expected", "causes"),
    [
        pytest.param(
            FORK,
            [
                alert("1", "api", 0),
                alert("2", "web", 60),
                alert("2b", "web", 400, name="WebSlow"),  # the fault's own: keeps it joinable
                alert("3", "db", 700),  # beyond cause_lag_s (600) after api
                alert("4", "report", 760),
            ],
            [["1", "2", "2b"], ["3", "4"]],
            {"1": "api", "3": "db"},
            id="a-dependency-alerting-minutes-after-its-callers-is-a-fault-of-its-own",
        ),
        pytest.param(
            FORK,
            [alert("1", "api", 0), alert("2", "web", 40), alert("3", "search", 200)],
            [["1", "2"], ["3"]],
            {"1": "api", "3": "search"},
            id="a-neighbour-of-a-symptom-but-not-of-the-cause-stays-apart",
        ),
        pytest.param(
            FORK,
            [alert("1", "web", 0), alert("2", "api", 60), alert("3", "db", 170)],
            [["1", "2", "3"]],
            {"1": "db"},
            id="a-cause-showing-late-within-the-lag-joins-and-leads",
        ),
        pytest.param(
            LINE,
            [
                alert("a", "a", 0),
                alert("b", "b", 20),
                alert("c", "c", 40),
                alert("d", "d", 60),
                alert("e", "e", 90),
            ],
            [["a", "b", "c", "d", "e"]],
            {"a": "e"},
            id="a-cascade-whose-far-callers-alert-first-is-one-incident",
        ),
        pytest.param(
            LINE,
            [alert("e", "e", 0), alert("a", "a", 100)],
            [["a", "e"]],
            {"a": "e"},
            id="a-caller-four-hops-above-the-cause-is-its-symptom",
        ),
    ],
)
def test_newcomers_relate_to_the_likely_cause(edges, events, expected, causes):
    decisions = correlate(events, edges)
    assert groups(decisions) == expected
    assert top_causes(decisions) == causes


def test_a_late_alert_of_a_cause_whose_metrics_turned_first_joins_and_leads():
    from tests.test_correlation_table import anomaly, member

    late = [alert("1", "api", 60), alert("2", "web", 90), alert("3", "db", 680)]
    assert groups(correlate(late, FORK)) == [["1", "2"], ["3"]]
    decisions = correlate([anomaly("db", 0), *late], FORK)
    assert groups(decisions) == [sorted(["1", "2", "3", member("db")])]
    assert top_causes(decisions) == {"1": "db"}


SHARED = [("auth", "currency"), ("catalog", "currency"), ("web", "auth"), ("web", "catalog")]


@pytest.mark.parametrize(
    ("edges", "signs", "events", "expected", "causes"),
    [
        pytest.param(
            SHARED,
            [],
            [alert("1", "auth", 60), alert("2", "catalog", 80)],
            [["1"], ["2"]],
            {"1": "auth", "2": "catalog"},
            id="siblings-with-a-healthy-shared-dependency-stay-apart",
        ),
        pytest.param(
            SHARED,
            ["currency"],
            [alert("1", "auth", 60), alert("2", "catalog", 80)],
            [["1", "2", "currency"]],
            {"1": "currency"},
            id="siblings-over-a-dependency-whose-metrics-turned-first-are-one-fault",
        ),
        pytest.param(
            FORK,
            ["db"],
            [alert("1", "api", 60), alert("2", "web", 90), alert("3", "db", 680)],
            [["1", "2", "3", "db"]],
            {"1": "db"},
            id="a-root-alert-after-a-long-for-joins-by-its-metrics-onset",
        ),
    ],
)
def test_metrics_onset_places_late_and_silent_causes(edges, signs, events, expected, causes):
    from tests.test_correlation_table import anomaly, member

    decisions = correlate([*(anomaly(s, 0) for s in signs), *events], edges)
    named = {member(s): s for s in signs}
    assert [sorted(named.get(i, i) for i in g) for g in groups(decisions)] == expected
    assert top_causes(decisions) == causes
