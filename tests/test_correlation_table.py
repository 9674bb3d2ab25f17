"""Grouping, ranking and what is worth a record, on small hand-made call graphs.

Each row is one domain's alerts and anomalies, fed to a ``DomainCorrelator`` in
event-time order and finished; the rules are those of ``operators/correlation/incidents.py``'s
module docstring and ``operators/correlation/rootcause.py``.
"""

import pytest
from alertflow.operators.correlation.anomaly_dedup import ANOMALY_PREFIX, AnomalySignal
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.decisions import Decision
from alertflow.schemas.outputs import Incident
from alertflow.schemas.records import AlertEvent

S = 10**9
T0 = 1_795_600_800 * S  # 2026-11-25T10:00:00Z

CHAIN = [("web", "api"), ("api", "db")]  # web calls api calls db
SPLIT = [*CHAIN, ("batch", "queue")]  # two parts that share nothing
LINE = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")]


def alert(fp, service, start, status="firing", end=None, severity="warning", name=None):
    labels = {"alertname": name or f"{service.title()}Down", "severity": severity, "cluster": "c"}
    if service:
        labels["service"] = service
    return AlertEvent(
        fingerprint=fp,
        status=status,
        labels=labels,
        annotations={},
        starts_ns=T0 + start * S,
        ends_ns=None if end is None else T0 + end * S,
        ref=f"alerts:{fp}:{status}:{start}",
    )


def anomaly(service, t, score=0.9, name="latency_p99", value=2.5, expected=0.2):
    return AnomalySignal(
        series=f'{name}{{service="{service}"}}',
        name=name,
        labels={"service": service, "cluster": "c"},
        ts_ns=T0 + t * S,
        value=value,
        expected=expected,
        score=score,
        severity="critical" if score >= 0.6 else "warning",
        detectors=("ensemble",),
        ref=f"anomalies:{service}:{name}:{t}",
    )


def member(service, name="latency_p99"):
    """The member id of an anomalous series."""
    return f'{ANOMALY_PREFIX}{name}{{service="{service}"}}'


def correlate(events, edges=(), **overrides) -> list[Decision]:
    settings = IncidentSettings(**{"lateness_s": 60.0, **overrides})
    correlator = DomainCorrelator("c", settings, static_edges=list(edges))
    return correlator.on_events(events, wall_ns=0) + correlator.finish(wall_ns=0)


def latest(decisions) -> list[Incident]:
    """The last version of every incident (its state), in order of first appearance."""
    state: dict[str, Incident] = {}
    for d in decisions:
        if d.stream == "incidents":
            state[d.record.incident_id] = d.record
    return list(state.values())


def groups(decisions) -> list[list[str]]:
    return sorted(sorted(m.id for m in incident.members) for incident in latest(decisions))


def notes(decisions) -> list[str]:
    return [d.record.kind for d in decisions if d.stream == "notifications"]


# --------------------------------------------------------------------------- grouping


@pytest.mark.parametrize(
    ("edges", "events", "expected", "overrides"),
    [
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "api", 30), alert("3", "web", 60)],
            [["1", "2", "3"]],
            {},
            id="chain-failing-bottom-up-is-one-incident",
        ),
        pytest.param(
            SPLIT,
            [
                alert("1", "db", 0),
                alert("2", "queue", 30),
                alert("3", "api", 60),
                alert("4", "batch", 90),
            ],
            [["1", "3"], ["2", "4"]],
            {},
            id="overlapping-faults-in-disjoint-parts-stay-apart",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "mystery", 300)],
            [["1", "2"]],
            {},
            id="service-unknown-to-the-graph-joins-by-time",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "", 300)],
            [["1"], ["2"]],
            {},
            id="alert-without-a-service-stays-apart",  # issue 10: not 0 hops from everything
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "mystery", 700)],
            [["1"], ["2"]],
            {},
            id="unknown-service-beyond-the-session-gap-opens-its-own",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "web", 30)],
            [["1"], ["2"]],
            {"max_hops": 1, "effect_hops": 1},
            id="beyond-max-hops-opens-its-own",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "api", 500), alert("3", "web", 1000)],
            [["1", "2", "3"]],
            {},
            id="gap-counts-from-the-newest-member",
        ),
        pytest.param(
            LINE,
            [alert("a", "a", 0), alert("e", "e", 10), alert("b", "b", 20)],
            [["a", "b"], ["e"]],
            {},
            id="nearest-incident-wins-over-a-more-recent-one",
        ),
        pytest.param(
            LINE,
            [alert("a", "a", 0), alert("e", "e", 10), alert("c", "c", 20)],
            [["a"], ["c", "e"]],
            {},
            id="equally-near-the-most-recent-wins",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("1", "db", 0, "resolved", 100), alert("2", "api", 200)],
            [["1"], ["2"]],
            {},
            id="an-incident-with-nothing-firing-takes-no-new-member",
        ),
        pytest.param(
            CHAIN,
            [
                alert("1", "db", 0),
                alert("2", "api", 50),
                alert("1", "db", 0, "resolved", 100),
                alert("1", "db", 200),
            ],
            [["1", "2"]],
            {},
            id="a-refiring-alert-stays-in-its-incident",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", 0), anomaly("db", 300), anomaly("db", 600), alert("2", "api", 700)],
            [["2"]],
            {"anomaly_incidents": True},
            id="further-anomalies-of-a-series-do-not-extend-its-session",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("1", "db", 0), alert("1", "db", 0)],
            [["1"]],
            {},
            id="resends-are-one-member",
        ),
    ],
)
def test_grouping(edges, events, expected, overrides):
    assert groups(correlate(events, edges, **overrides)) == expected


def test_resends_are_counted_but_emit_no_version():
    correlator = DomainCorrelator("c", IncidentSettings(lateness_s=0.0), static_edges=CHAIN)
    out = correlator.on_events([alert("1", "db", 0)] * 3, wall_ns=0)
    assert [d.record.version for d in out if d.stream == "incidents"] == [1]
    (incident,) = correlator.grouper.incidents.values()
    assert incident.members["1"].count == 3


# --------------------------------------------------------------------------- ranking


@pytest.mark.parametrize(
    ("edges", "events", "ranking", "symptoms"),
    [
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "api", 30), alert("3", "web", 60)],
            ["db", "api", "web"],
            {"api", "web"},
            id="chain-db-first-callers-are-symptoms",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "api", 0), alert("2", "db", 60)],
            ["db", "api"],
            {"api"},
            id="dependency-within-lag-tolerance-outranks-an-earlier-caller",
        ),
        pytest.param(
            CHAIN,
            # Issue 10, mode 5: a dependency dated by its alert alone may have failed a
            # `for:` (up to 600 s) before it: it explains its caller.
            [alert("1", "api", 0), alert("2", "db", 250)],
            ["db", "api"],
            {"api"},
            id="dependency-alerting-within-a-for-explains-its-caller",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "api", 0), anomaly("db", 240), alert("2", "db", 250)],
            ["api", "db"],
            set(),
            id="dependency-whose-metrics-turned-only-later-explains-nothing",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", 0), alert("1", "web", 60), alert("2", "web", 90, name="WebErrors")],
            ["db", "web"],
            {"web"},
            id="cause-seen-only-as-an-anomaly-ranks-first",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "api", 0, severity="critical"), anomaly("db", 0, value=1.05, expected=1.0)],
            ["api", "db"],
            set(),
            id="a-small-anomaly-below-does-not-make-an-alerting-service-a-symptom",
        ),
        pytest.param(
            CHAIN,
            [
                alert("1", "web", 0),
                anomaly("web", 0),
                anomaly("api", 0, value=2.4),
                anomaly("db", 0, score=0.5, value=0.3),
            ],
            ["api", "db", "web"],
            {"web"},
            id="only-a-comparable-change-below-explains-a-service",
        ),
        pytest.param(
            (),
            [alert("1", "x", 0), alert("2", "y", 60, severity="critical")],
            ["y", "x"],
            set(),
            id="near-tie-in-onset-is-broken-by-severity",
        ),
        pytest.param(
            (),
            [alert("1", "x", 0, severity="critical"), alert("2", "y", 300, severity="critical")],
            ["x", "y"],
            set(),
            id="onset-beyond-the-lag-tolerance-decides",
        ),
    ],
)
def test_ranking(edges, events, ranking, symptoms):
    (incident,) = latest(correlate(events, edges))
    assert [c.service for c in incident.root_causes] == ranking
    flagged = {
        c.service for c in incident.root_causes if any("likely a symptom" in e for e in c.evidence)
    }
    assert flagged == symptoms
    # Events are in event-time order: the first one's service has the earliest onset.
    evidence = {c.service: c.evidence for c in incident.root_causes}
    assert "(earliest in the incident)" in evidence[events[0].labels["service"]][0]


def test_an_anomaly_cause_says_what_was_anomalous():
    out = correlate([anomaly("db", 0), alert("1", "web", 60)], CHAIN)
    (incident,) = latest(out)
    top = incident.root_causes[0]
    assert top.service == "db"
    assert any(e.startswith("anomalous: latency_p99 2.5 above expected 0.2") for e in top.evidence)
    assert incident.members[0].id == member("db") and incident.members[0].kind == "anomaly"
    # The anomaly came first and waited as evidence; one warning alert is not announced.
    assert notes(out) == []


# --------------------------------------------------------------------------- records


@pytest.mark.parametrize(
    ("edges", "events", "records", "severity", "announced"),
    [
        pytest.param(
            CHAIN,
            [anomaly("db", 0), anomaly("db", 30, name="error_ratio"), anomaly("db", 60)],
            0,
            None,
            [],
            id="anomalies-on-one-service-are-no-incident",
        ),
        pytest.param(
            SPLIT,
            [anomaly("db", 0), anomaly("queue", 30)],
            0,
            None,
            [],
            id="anomalies-on-unrelated-services-are-no-incident",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", 0), anomaly("api", 30, score=0.4)],
            1,
            "critical",
            ["incident_opened"],
            id="anomalies-on-two-related-services-one-critical-are-announced",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", 0, score=0.4), anomaly("api", 30, score=0.5)],
            1,
            "warning",
            [],
            id="anomalies-on-two-related-services-all-warning-are-recorded-only",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", 0, score=0.95), alert("1", "api", 30)],
            1,
            "warning",
            [],
            id="alerts-decide-the-severity-an-anomaly-is-not-a-second-alert",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "api", 0), alert("1", "api", 0, "resolved", 60)],
            1,
            "warning",
            [],
            id="a-lone-warning-blip-is-recorded-never-announced",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "api", 0, severity="critical"), alert("1", "api", 0, "resolved", 60)],
            1,
            "critical",
            ["incident_opened", "incident_resolved"],
            id="a-critical-alert-is-announced-and-so-is-its-resolution",
        ),
    ],
)
def test_what_is_recorded_and_announced(edges, events, records, severity, announced):
    # Anomaly-only incidents are opt-in (estates without alerting); the rules under test.
    out = correlate(events, edges, anomaly_incidents=True)
    incidents = latest(out)
    assert len(incidents) == records
    if records:
        assert incidents[0].severity == severity
    assert notes(out) == announced


def test_an_alert_incident_resolves_after_quiet_from_its_alerts_and_ends_its_evidence():
    out = correlate(
        [
            anomaly("db", 0),
            alert("1", "api", 10),
            alert("1", "api", 10, "resolved", 100),
            alert("9", "queue", 2000),  # moves the domain's event time on
        ],
        SPLIT,
        anomaly_hold_s=600,
        quiet_period_s=300,
    )
    first = latest(out)[0]
    assert first.status == "resolved"
    # The alert decides: it resolved at 100 s. The anomaly, quiet since 0 s, counts as
    # recovered at 600 s + 300 s quiet, but evidence lingers at most session_gap_s (600 s)
    # past the alerts' end: 700 s. It ends with the incident.
    assert first.resolved_at == "2026-11-25T10:11:40.000Z"
    assert {m.status for m in first.members} == {"resolved"}


def test_evidence_re_firing_does_not_keep_an_alert_incident_open():
    # Found by bench/correlation_scale.py: a series anomalous every few minutes kept its
    # incident open for 19 h, gathering every alert nearby.
    events = [anomaly("db", 0), alert("1", "api", 10), alert("1", "api", 10, "resolved", 100)]
    events += [anomaly("db", t) for t in range(200, 3000, 240)]
    out = correlate([*events, alert("9", "queue", 4000)], SPLIT, anomaly_hold_s=600)
    first = latest(out)[0]
    assert first.status == "resolved"
    assert first.resolved_at == "2026-11-25T10:11:40.000Z"  # the alert's end + 600 s at most


def test_an_alert_resolving_by_silence_emits_a_version():
    settings = IncidentSettings(lateness_s=0.0, stale_after_s=600)
    correlator = DomainCorrelator("c", settings, static_edges=SPLIT)
    out = correlator.on_events([alert("1", "api", 10), alert("9", "queue", 2000)], wall_ns=0)
    first = latest(out)[0]
    assert dict((m.id, m.status) for m in first.members)["1"] == "resolved"


def test_an_anomaly_resolving_by_silence_waits_for_the_next_version():
    # Evidence comes and goes all the time; a version per quiet series would flood the stream.
    settings = IncidentSettings(lateness_s=0.0, anomaly_hold_s=600, stale_after_s=10**6)
    correlator = DomainCorrelator("c", settings, static_edges=SPLIT)
    out = correlator.on_events(
        [anomaly("db", 0), alert("1", "api", 10), alert("9", "queue", 2000)], wall_ns=0
    )
    first = latest(out)[0]
    assert dict((m.id, m.status) for m in first.members)[member("db")] == "firing"
    assert correlator.grouper.incidents[first.incident_id].members[member("db")].status == (
        "resolved"
    )
