"""Lone warnings go to the noise digest, updates coalesce, and no alert is ever lost.

Issue 10 (noise reduction counting every record, output volume). Each table row is a
hand-made graph and alert sequence with the expected incidents and digest lines; the
properties feed random alert and anomaly histories (those of ``test_correlation_properties``)
and check that every alert ends in a record that holds it, and that coalescing versions
changes no incident's final state.
"""

import io
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from alertflow.dataflows.incident_view import print_incidents
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.estate_digest import EstateDigests
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.correlation.noise_digest import (
    DigestEntry,
    NoiseDigest,
    NoiseDigests,
    render_digest,
)
from alertflow.operators.decisions import Decision
from alertflow.schemas.outputs import Incident
from alertflow.schemas.records import AlertEvent
from hypothesis import given
from hypothesis import strategies as st

from tests.test_correlation_properties import EDGES as PROPERTY_EDGES
from tests.test_correlation_properties import PROPERTY, domain_events
from tests.test_correlation_table import CHAIN, T0, alert, anomaly, correlate, latest

S = 10**9
SPLIT = [*CHAIN, ("batch", "queue")]  # web -> api -> db, and batch -> queue apart
DIGEST = {"noise_digest": True, "coalesce_updates": True}


def resolved(fp, service, start, end, **kw):
    return alert(fp, service, start, status="resolved", end=end, **kw)


# A warning on db that its own metrics corroborate, firing twice (a new startsAt at 200 s).
FLAPPING_ON_DB = [
    anomaly("db", -60),
    anomaly("db", -30),
    alert("1", "db", 0),
    resolved("1", "db", 0, 60),
    alert("1", "db", 200),
    resolved("1", "db", 200, 260),
]

# A lone warning on db, listed as noise, that fires again 20 min later beside db's metrics.
REOPENING_ON_DB = [
    alert("1", "db", 0),
    resolved("1", "db", 0, 60),
    anomaly("db", 1140),
    anomaly("db", 1170),
    alert("1", "db", 1200),
    resolved("1", "db", 1200, 1260),
]


# A critical alert kind that fires alone and resolves (a sidecar OOM kill), on db then on
# queue after db's incident ended; with the queue's metrics, or lasting, its second one.
OOM = "SidecarOOMKilled"
OOM_TWICE = [
    alert("1", "db", 0, severity="critical", name=OOM),
    resolved("1", "db", 0, 60, severity="critical", name=OOM),
    alert("2", "queue", 3000, severity="critical", name=OOM),
    resolved("2", "queue", 3000, 3060, severity="critical", name=OOM),
]
OOM_CORROBORATED = [*OOM_TWICE[:2], anomaly("queue", 2940), anomaly("queue", 2970), *OOM_TWICE[2:]]
OOM_LASTING = [*OOM_TWICE[:3], alert("9", "web", 3700)]  # "2" still firing at 3000 + 700

# The first sidecar OOM kill of the estate, alone: no history of its kind anywhere. Its rule
# says what happened (a one-off event, already over); one_off_alerts reads that.
ONCE = "KubeContainerOOMKilledOnce"
ONE_OFF = {"one_off_alerts": "OOMKill|Once$"}
OOM_ONCE = [
    alert("1", "queue", 0, severity="critical", name=ONCE),
    resolved("1", "queue", 0, 120, severity="critical", name=ONCE),
]


def split(decisions) -> tuple[list[list[str]], list[list[str]]]:
    """(incidents' alert ids, digests' alert ids), each sorted; merged incidents left out."""
    incidents, digests = [], []
    for record in latest(decisions):
        ids = sorted(m.id for m in record.members if m.kind == "alert")
        if record.kind == "noise":
            digests.append(ids)
        elif record.status != "merged":
            incidents.append(ids)
    return sorted(incidents), sorted(digests)


@pytest.mark.parametrize(
    ("edges", "events", "incidents", "digests", "overrides"),
    [
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), resolved("1", "db", 0, 120)],
            [],
            [["1"]],
            {},
            id="a-lone-warning-that-resolves-is-listed-not-recorded",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), alert("2", "api", 30)],
            [["1", "2"]],
            [],
            {},
            id="two-related-alerts-are-an-incident-and-no-noise",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0, severity="critical")],
            [["1"]],
            [],
            {},
            id="a-lone-critical-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", -60), anomaly("db", -30), alert("1", "api", 0)],
            [["1"]],
            [],
            {},
            id="a-lone-warning-its-dependency-s-metrics-corroborate-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [
                anomaly("api", 0),
                anomaly("api", 15),
                alert("1", "api", 30),
                resolved("1", "api", 30, 90),
            ],
            [["1"]],
            [],
            {},
            id="a-lone-warning-its-own-metrics-corroborate-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [anomaly("api", 0), alert("1", "api", 30), resolved("1", "api", 30, 90)],
            [],
            [["1"]],
            {},
            id="one-anomalous-sample-is-a-blip-not-corroboration",
        ),
        pytest.param(
            CHAIN,
            [anomaly("web", -30), alert("1", "db", 0), resolved("1", "db", 0, 120)],
            [],
            [["1"]],
            {},
            id="anomalies-on-its-callers-only-do-not-make-a-lone-warning-an-incident",
        ),
        pytest.param(
            SPLIT,
            [alert("1", "db", 0), alert("2", "queue", 700), alert("3", "web", 3000)],
            [],
            [["1", "2", "3"]],
            {},
            id="unrelated-lone-warnings-share-one-digest-per-day",
        ),
        pytest.param(
            SPLIT,
            [alert("1", "db", 0), alert("2", "queue", 200), alert("3", "api", 230)],
            [["1", "3"]],
            [["1", "2"]],
            {"record_after_s": 60},
            id="a-listed-warning-an-incident-takes-keeps-its-line-and-names-the-incident",
        ),
        pytest.param(
            SPLIT,
            [
                alert("1", "db", 0),
                resolved("1", "db", 0, 60),
                alert("2", "queue", 1000),  # moves event time: "1" is listed on day one
                anomaly("web", 2000),  # ...and its digest's first version comes out that day
                alert("1", "db", 86_400 + 60),
            ],
            [],
            [["1"], ["1", "2"]],
            {},
            id="a-new-episode-the-next-day-is-that-days-news",
        ),
        pytest.param(
            SPLIT,
            [alert("1", "db", 0), resolved("1", "db", 0, 60), alert("2", "queue", 30)],
            [["1"], ["2"]],
            [],
            {"noise_digest": False},
            id="without-the-digest-a-lone-warning-is-its-own-incident",
        ),
        pytest.param(
            SPLIT,
            [alert("1", "db", 0), alert("2", "queue", 400)],
            [["1"]],
            [["2"]],
            {"notify_after_s": 300},
            id="notify-after-announces-a-lasting-lone-warning-as-an-incident",
        ),
        pytest.param(
            CHAIN,
            [*(anomaly("db", t) for t in range(-3600, 1, 300)), alert("1", "db", 0)],
            [],
            [["1"]],
            {"corroborate_before_s": 900},
            id="evidence-that-began-an-hour-before-the-alert-is-a-concurrent-problem",
        ),
        pytest.param(
            CHAIN,
            [*(anomaly("db", t) for t in range(-3600, 1, 300)), alert("1", "db", 0)],
            [["1"]],
            [],
            {"corroborate_before_s": None},
            id="without-an-onset-window-any-evidence-on-its-service-corroborates",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", -600), anomaly("db", -300), alert("1", "db", 0)],
            [["1"]],
            [],
            {"corroborate_before_s": 900},
            id="evidence-that-began-within-a-for-duration-before-the-alert-corroborates",
        ),
        pytest.param(
            CHAIN,
            [anomaly("db", -30), alert("1", "web", 0)],
            [],
            [["1"]],
            {"corroborate_hops": 1},
            id="evidence-two-hops-below-does-not-corroborate-within-one-hop",
        ),
        pytest.param(
            CHAIN,
            [anomaly("api", -60), anomaly("api", -30), alert("1", "web", 0)],
            [["1"]],
            [],
            {"corroborate_hops": 1},
            id="evidence-one-hop-below-corroborates-within-one-hop",
        ),
        pytest.param(
            CHAIN,
            [anomaly("api", -30), alert("1", "web", 0)],
            [],
            [["1"]],
            {"corroborate_hops": 0},
            id="with-zero-hops-only-evidence-on-its-own-service-corroborates",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), anomaly("db", 1500), anomaly("db", 1560)],
            [],
            [["1"]],
            {"corroborate_after_s": 600},
            id="evidence-that-began-long-after-the-alert-does-not-corroborate-it",
        ),
        pytest.param(
            CHAIN,
            [alert("1", "db", 0), anomaly("db", 120), anomaly("db", 180)],
            [["1"]],
            [],
            {"corroborate_after_s": 600},
            id="evidence-that-began-soon-after-the-alert-corroborates-it",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB],
            [],
            [["1"]],
            {"lone_max_episodes": 2},
            id="a-lone-warning-that-flaps-is-noise-though-its-metrics-corroborate-it",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB],
            [["1"]],
            [],
            {"lone_max_episodes": 3},
            id="two-episodes-are-not-three",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB],
            [["1"]],
            [],
            {},
            id="without-lone-max-episodes-a-corroborated-flapping-warning-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB[:4]],
            [["1"]],
            [],
            {"lone_max_episodes": 2},
            id="a-corroborated-lone-warning-that-resolves-before-it-flaps-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB[:3], anomaly("db", 700)],
            [["1"]],
            [],
            {"lone_max_episodes": 2},
            id="a-corroborated-lone-warning-still-firing-at-record-after-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [*REOPENING_ON_DB],
            [],
            [["1"]],
            {"lone_max_episodes": 2},
            id="a-warning-firing-again-after-its-digest-line-is-not-a-new-incident",
        ),
        pytest.param(
            CHAIN,
            [*REOPENING_ON_DB],
            [["1"]],
            [["1"]],
            {},
            id="without-lone-max-episodes-its-corroborated-return-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB, alert("2", "api", 230)],
            [["1", "2"]],
            [],
            {"lone_max_episodes": 2},
            id="a-flapping-warning-that-a-second-alert-joins-is-an-incident",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB[:4], alert("1", "db", 700), resolved("1", "db", 700, 760)],
            [],
            [["1"]],
            {"lone_max_episodes": 2, "lone_flap_wait_s": 1200},
            id="a-corroborated-lone-warning-waits-its-flap-wait-open-and-unseen",
        ),
        pytest.param(
            CHAIN,
            [*FLAPPING_ON_DB[:4], alert("1", "db", 700), resolved("1", "db", 700, 760)],
            [["1"]],
            [["1"]],
            {"lone_max_episodes": 2, "lone_flap_wait_s": 600},
            id="a-flap-after-the-wait-is-a-digest-line-beside-the-record",
        ),
        pytest.param(
            SPLIT,
            [*OOM_TWICE],
            [["1"]],
            [["2"]],
            {"lone_critical_streak": 1},
            id="a-critical-alert-whose-kind-ended-alone-before-is-a-digest-line",
        ),
        pytest.param(
            SPLIT,
            [*OOM_TWICE],
            [["1"], ["2"]],
            [],
            {"lone_critical_streak": 2},
            id="one-lone-episode-is-not-two",
        ),
        pytest.param(
            SPLIT,
            [*OOM_TWICE],
            [["1"], ["2"]],
            [],
            {},
            id="without-lone-critical-streak-every-critical-alert-is-an-incident",
        ),
        pytest.param(
            SPLIT,
            [*OOM_CORROBORATED],
            [["1"], ["2"]],
            [],
            {"lone_critical_streak": 1},
            id="a-held-back-critical-alert-its-metrics-corroborate-is-an-incident",
        ),
        pytest.param(
            SPLIT,
            [*OOM_LASTING],
            [["1"], ["2"]],
            [["9"]],
            {"lone_critical_streak": 1},
            id="a-held-back-critical-alert-still-firing-at-record-after-is-an-incident",
        ),
        pytest.param(
            SPLIT,
            [
                alert("0", "batch", -6000, severity="critical", name=OOM),
                resolved("0", "batch", -6000, -5940, severity="critical", name=OOM),
                *OOM_TWICE[:2],
                alert("3", "api", 30),  # the kind is part of an incident: its streak ends
                resolved("3", "api", 30, 90),
                *OOM_TWICE[2:],
            ],
            [["0"], ["1", "3"], ["2"]],
            [],
            {"lone_critical_streak": 1},
            id="a-critical-kind-once-part-of-an-incident-pages-again",
        ),
        pytest.param(
            SPLIT,
            [*OOM_ONCE],
            [],
            [["1"]],
            ONE_OFF,
            id="a-first-lone-critical-one-off-event-is-a-digest-line",
        ),
        pytest.param(
            SPLIT,
            [*OOM_ONCE],
            [],
            [["1"]],
            {**ONE_OFF, "lone_critical_streak": 1},
            id="one-off-and-lone-critical-streak-together",
        ),
        pytest.param(
            SPLIT,
            [*OOM_ONCE],
            [["1"]],
            [],
            {"lone_critical_streak": 1},
            id="without-one-off-alerts-a-first-critical-alert-pages",
        ),
        pytest.param(
            SPLIT,
            [*OOM_ONCE],
            [["1"]],
            [],
            {"one_off_alerts": "Restarted$"},
            id="a-critical-alert-the-pattern-does-not-name-pages",
        ),
        pytest.param(
            SPLIT,
            [anomaly("queue", -60), anomaly("queue", -30), *OOM_ONCE],
            [["1"]],
            [],
            ONE_OFF,
            id="a-one-off-event-its-metrics-corroborate-is-an-incident",
        ),
        pytest.param(
            SPLIT,
            [OOM_ONCE[0], alert("9", "web", 700)],  # moves event time past 0 + 600 s
            [["1"]],
            [["9"]],
            ONE_OFF,
            id="a-one-off-event-still-firing-at-record-after-is-an-incident",
        ),
        pytest.param(
            SPLIT,
            [OOM_ONCE[0], alert("2", "batch", 30), *OOM_ONCE[1:]],
            [["1", "2"]],
            [],
            ONE_OFF,
            id="a-one-off-event-another-alert-joins-is-an-incident",
        ),
        pytest.param(
            SPLIT,
            [
                alert("1", "queue", 0, name=ONCE),
                resolved("1", "queue", 0, 120, name=ONCE),
                anomaly("queue", 30),
                anomaly("queue", 60),
            ],
            [["1"]],
            [],
            ONE_OFF,
            id="one-off-alerts-changes-nothing-for-warnings",
        ),
    ],
)
def test_noise_digest(edges, events, incidents, digests, overrides):
    decisions = correlate(events, edges, **{**DIGEST, **overrides})
    assert split(decisions) == (incidents, digests)
    for record in latest(decisions):
        Incident.model_validate(record)  # every record passes the output schema


def test_a_held_back_critical_alert_pages_only_once_it_lasts():
    # The second sidecar OOM kill pages nobody: its kind ended alone on db (listed instead).
    quick = correlate(OOM_TWICE, SPLIT, **DIGEST, lone_critical_streak=1)
    (first, _digest) = latest(quick)
    assert _page_ids(quick) == [first.incident_id]
    (digest,) = [r for r in latest(quick) if r.kind == "noise"]
    assert digest.severity == "critical"  # listed as what it is, never dropped
    # Still firing at record_after_s (600 s) into its episode: it pages then, not at once.
    run = DomainCorrelator(
        "c", IncidentSettings(lateness_s=0.0, **DIGEST, lone_critical_streak=1),
        static_edges=SPLIT,
    )  # fmt: skip
    at_start = run.on_events(OOM_LASTING[:3], wall_ns=0)
    assert [_page_ids(at_start)] == [[first.incident_id]]  # the second waits
    lasted = run.on_events(OOM_LASTING[3:], wall_ns=0)  # event time past 3000 + 600 s
    (page,) = [d.record for d in lasted if d.stream == "notifications"
               and d.record.kind == "incident_opened"]  # fmt: skip
    assert page.services == ["queue"]


def _page_ids(decisions) -> list[str]:
    return [d.record.incident_id for d in decisions if d.stream == "notifications"
            and d.record.kind == "incident_opened"]  # fmt: skip


def test_a_taken_alert_names_its_incident_and_nothing_is_announced_for_noise():
    events = [alert("1", "db", 0), alert("2", "queue", 200), alert("3", "api", 230)]
    decisions = correlate(events, SPLIT, **DIGEST, record_after_s=60)
    (incident,) = [r for r in latest(decisions) if r.kind == "incident"]
    (digest,) = [r for r in latest(decisions) if r.kind == "noise"]
    assert digest.taken_by == {"1": incident.incident_id}
    assert digest.root_causes == [] and "2 lone alerts" in digest.summary
    noted = {d.record.incident_id for d in decisions if d.stream == "notifications"}
    assert digest.incident_id not in noted and incident.incident_id in noted


def test_a_digest_ends_when_its_window_is_over_and_its_alerts_have_resolved():
    events = [
        alert("1", "db", 0),
        resolved("1", "db", 0, 60),
        anomaly("web", 2000),  # moves event time: "1" is listed in the first hour
        alert("3", "queue", 2500),
        anomaly("web", 3000),  # ...and its digest's first version comes out in it
        alert("2", "db", 7300),
    ]
    decisions = correlate(events, SPLIT, **DIGEST, noise_window_s=3600)
    first_hour, second = [r for r in latest(decisions) if r.kind == "noise"]
    assert first_hour.status == "resolved" and first_hour.resolved_at is not None
    assert [m.id for m in first_hour.members] == ["1"]
    assert second.status != "resolved"  # "2" still fires
    assert sorted(m.id for m in second.members) == ["2", "3"]
    assert NoiseDigests("c", window_s=3600, interval_s=900).due() == 2**63 - 1  # nothing noted


def test_an_always_firing_alert_from_weeks_ago_is_listed_today():
    week = 7 * 86_400
    # In arrival order: the old one is re-sent now, its startsAt weeks back (failure mode 8).
    events = [alert("new", "queue", 0), alert("old", "db", -3 * week)]
    decisions = correlate(events, SPLIT, **DIGEST, lateness_s=0.0)
    (digest,) = [r for r in latest(decisions) if r.kind == "noise"]
    assert digest.opened_at.startswith("2026-11-25")  # the day it was seen, not the start
    assert sorted(m.id for m in digest.members) == ["new", "old"]


def test_a_digest_opens_with_its_first_line_not_at_its_window_start():
    """An afternoon's lone warnings: the digest did not 'last' since midnight."""
    events = [alert("a", "queue", 600), alert("b", "db", 1800), anomaly("web", 4000)]
    decisions = correlate(events, SPLIT, **DIGEST)
    (digest,) = [r for r in latest(decisions) if r.kind == "noise"]
    assert digest.opened_at.startswith("2026-11-25T10:10:00")  # T0 is 10:00, "a" at +600 s
    assert digest.opened_at <= digest.updated_at


def test_a_replay_sorted_by_start_lists_an_old_alert_in_the_digest_of_the_day_it_reaches():
    week = 7 * 86_400
    # A replay in startsAt order: the weeks-old alert is listed while the clock is still on
    # its first day, but that day's digest was never written before the replay moved on.
    events = [
        alert("old", "db", -3 * week),
        anomaly("web", -3 * week + 1200),  # the clock on its first day: "old" is listed
        alert("new", "queue", 0),
    ]
    decisions = correlate(events, SPLIT, **DIGEST)
    (digest,) = [r for r in latest(decisions) if r.kind == "noise"]
    assert digest.opened_at.startswith("2026-11-25")
    assert sorted(m.id for m in digest.members) == ["new", "old"]


def test_coalesced_updates_come_out_at_once_when_an_alert_joins_or_severity_changes():
    events = [
        alert("1", "db", 0),
        alert("2", "api", 10),
        alert("3", "web", 20),  # a new alert: at once
        resolved("1", "db", 0, 40),  # a member resolving: folded...
        resolved("2", "api", 10, 50),
        alert("4", "web", 60, name="WebErrors", severity="critical"),  # ...into the escalation
    ]
    decisions = correlate(events, CHAIN, **DIGEST)
    versions = [d.record for d in decisions if d.stream == "incidents"]
    firing = [sorted(m.id for m in v.members if m.status == "firing") for v in versions]
    assert [(v.version, v.severity) for v in versions[:3]] == [
        (1, "warning"),
        (2, "warning"),
        (3, "critical"),
    ]
    assert firing[:3] == [["1", "2"], ["1", "2", "3"], ["3", "4"]]
    assert [d.record.kind for d in decisions if d.stream == "notifications"][:2] == [
        "incident_opened",
        "incident_escalated",
    ]
    old = [d.record for d in correlate(events, CHAIN) if d.stream == "incidents"]
    assert len(old) > len(versions)


def test_an_alert_storm_comes_out_as_a_few_versions_not_one_per_alert():
    storm = [alert(f"p{n}", ("web", "api")[n % 2], 20 + n // 100) for n in range(200)]
    events = [alert("1", "db", 0), alert("2", "api", 10), *storm]
    kw = {**DIGEST, "join_interval_s": 2.0}
    run = DomainCorrelator("c", IncidentSettings(lateness_s=0.0, **kw), static_edges=SPLIT)
    out = run.on_events(events, wall_ns=0)
    # Two alerts announced, then the storm's first alert at once, the rest folded...
    assert [len(f) for f in _firing(out)] == [2, 3]
    # ...into one version when event time passes the interval: every alert in it.
    out = run.on_events([alert("x", "queue", 30)], wall_ns=0)
    assert [len(f) for f in _firing(out)] == [202]
    every = [d for d in correlate(events, CHAIN, **DIGEST) if d.stream == "incidents"]
    assert len(every) == 1 + 200  # without the interval: a version per alert
    # An escalation inside the interval still comes out at once.
    worse = alert("c", "web", 40, name="WebDown", severity="critical")
    out = run.on_events([alert("y", "api", 40), worse], wall_ns=0)
    assert [v.record.severity for v in out if v.stream == "incidents"][-1] == "critical"


def _firing(decisions) -> list[list[str]]:
    """The firing members of each incident version."""
    return [
        [m.id for m in d.record.members if m.status == "firing"]
        for d in decisions
        if d.stream == "incidents"
    ]


def test_a_folded_change_comes_out_by_the_end_of_its_interval():
    events = [alert("1", "db", 0), alert("2", "api", 10), resolved("1", "db", 0, 20)]
    run = DomainCorrelator("c", IncidentSettings(lateness_s=0.0, **DIGEST), static_edges=SPLIT)
    out = run.on_events(events, wall_ns=0)
    firing = _firing(out)
    assert firing == [["1", "2"]]  # "1" resolving waits for the interval
    later = alert("x", "queue", 400)  # anything that moves event time past the interval
    out = run.on_events([later], wall_ns=0)
    firing = _firing(out)
    assert firing == [["2"]]


# --------------------------------------------------------------------------- properties


def _settings(**kw) -> IncidentSettings:
    return IncidentSettings(
        session_gap_s=600, quiet_period_s=300, stale_after_s=3600, lateness_s=10**7,
        notify_after_s=None, anomaly_hold_s=600, **kw,
    )  # fmt: skip


def _run(events, **kw):
    correlator = DomainCorrelator("c", _settings(**kw), static_edges=PROPERTY_EDGES)
    return correlator.on_events(list(events), 0) + correlator.finish(0)


@PROPERTY
@given(
    domain_events(),
    st.sampled_from((0.0, 60.0, 600.0)),
    st.sampled_from((None, 2, 3)),
    st.sampled_from((None, 1)),
    st.sampled_from((None, ".")),  # ".": every lone critical alert is a one-off event
)
def test_no_alert_is_lost(
    events, record_after_s, lone_max_episodes, lone_critical_streak, one_off_alerts
):
    on = {"noise_digest": True, "coalesce_updates": True}
    flaps = {"lone_max_episodes": lone_max_episodes, "lone_flap_wait_s": 1200.0}
    flaps["lone_critical_streak"] = lone_critical_streak
    flaps["one_off_alerts"] = one_off_alerts
    decisions = _run(events, record_after_s=record_after_s, **on, **flaps)
    fired = {e.fingerprint for e in events if isinstance(e, AlertEvent) and e.status == "firing"}
    _assert_every_alert_held(latest(decisions), fired)


@PROPERTY
@given(
    domain_events(),
    domain_events(),
    st.lists(st.booleans(), max_size=64),
    st.sampled_from((None, ".")),
)
def test_no_alert_is_lost_in_the_estate_digest(eu, us, order, one_off_alerts):
    # Two domains' digests folded into the estate's (noise_digest_scope "estate"), their
    # versions interleaved at random, each domain's in its own order.
    on = {"noise_digest": True, "coalesce_updates": True, "lone_critical_streak": 1}
    fired, kept, queues = set(), [], []
    for name, events in (("eu", eu), ("us", us)):
        events = [
            replace(e, fingerprint=f"{name}-{e.fingerprint}") if isinstance(e, AlertEvent) else e
            for e in events
        ]
        fired |= {
            e.fingerprint for e in events if isinstance(e, AlertEvent) and e.status == "firing"
        }
        correlator = DomainCorrelator(name, _settings(**on, one_off_alerts=one_off_alerts),
                                      static_edges=PROPERTY_EDGES)  # fmt: skip
        decisions = correlator.on_events(events, 0) + correlator.finish(0)
        digest = [d for d in decisions if d.stream == "incidents" and d.record.kind == "noise"]
        kept += [d for d in decisions if d not in digest]
        queues.append(digest)
    estate, folded, flips = EstateDigests(86_400.0), [], iter(order)
    while any(queues):
        i = (1 if next(flips, False) else 0) if all(queues) else (0 if queues[0] else 1)
        folded.append(Decision("incidents", "", estate.fold(queues[i].pop(0).record)))
    records = latest(kept + folded)
    assert sum(1 for r in records if r.kind == "noise") <= 2  # one per window (a 2-day span)
    _assert_every_alert_held(records, fired)


def _assert_every_alert_held(records, fired: set[str]) -> None:
    """Every fired alert is listed by some record's last version, and each record's
    ``taken_by`` names an incident that holds the alert (or the one that absorbed it)."""
    by_id = {r.incident_id: r for r in records}
    held: dict[str, set[str]] = {}  # fingerprint -> records whose last version lists it
    for record in records:
        Incident.model_validate(record)
        for m in record.members:
            held.setdefault(m["id"] if isinstance(m, dict) else m.id, set()).add(record.incident_id)
    for fingerprint in fired:
        assert fingerprint in held, f"{fingerprint} is in no record"
    for record in records:
        for fingerprint, taken in record.taken_by.items():
            # Listed, then taken: the line names an incident that holds it, or absorbed it.
            while by_id[taken].status == "merged":
                taken = by_id[taken].merged_into
            assert taken in held[fingerprint], (fingerprint, record.taken_by)


def _final(decisions) -> list[tuple]:
    """Each incident's last version, as far as coalescing must leave it as it was.

    Some changes never had a version of their own (re-sends move a member's count and
    last_seen; evidence expiring waits for the next version), so a folded version, which
    comes later, may show them fresher: evidence status, counts and times are left out.
    """
    out = []
    for r in latest(decisions):
        alerts = sorted((m.id, m.status, m.episodes) for m in r.members if m.kind == "alert")
        out.append((
            r.incident_id, r.status if r.status in ("resolved", "merged") else "live",
            r.merged_into, r.opened_at, r.resolved_at, r.severity, tuple(r.services),
            tuple(sorted(m.id for m in r.members)), tuple(alerts),
            tuple(c.service for c in r.root_causes), r.members_omitted,
        ))  # fmt: skip
    return sorted(out)


@PROPERTY
@given(domain_events(), st.sampled_from((0.0, 2.0, 60.0)))
def test_coalescing_changes_no_final_state_and_never_adds_versions(events, join_interval_s):
    plain = _run(events)
    folded = _run(events, coalesce_updates=True, join_interval_s=join_interval_s)
    assert _final(folded) == _final(plain)
    count = sum(d.stream == "incidents" for d in folded)
    assert count <= sum(d.stream == "incidents" for d in plain)
    notes = [(d.record.incident_id, d.record.kind) for d in folded if d.stream == "notifications"]
    assert notes == [(d.record.incident_id, d.record.kind) for d in plain
                     if d.stream == "notifications"]  # fmt: skip


def test_alertflow_incidents_shows_a_digest_by_its_summary(tmp_path):
    events = [alert("1", "db", 0), alert("2", "queue", 200), alert("3", "api", 230)]
    decisions = correlate(events, SPLIT, **DIGEST, record_after_s=60)
    path = tmp_path / "incidents.jsonl"
    path.write_bytes(b"".join(d.encode() + b"\n" for d in decisions if d.stream == "incidents"))
    out = io.StringIO()
    print_incidents(str(path), out=out)
    lines = out.getvalue().splitlines()
    (digest,) = [r for r in latest(decisions) if r.kind == "noise"]
    row = next(i for i, line in enumerate(lines) if line.startswith(digest.incident_id[:8]))
    assert lines[row + 1].strip() == digest.summary
    assert lines[-1].startswith("1 incident(s) and 1 noise digest(s), current versions of")


def _entry(fingerprint: str, name: str, episodes: int, taken: str | None) -> DigestEntry:
    labels = {"alertname": name, "service": "db"}
    return DigestEntry(
        fingerprint,
        labels,
        "db",
        "warning",
        S,
        2 * S,
        "resolved",
        episodes,
        episodes,
        S,
        incident_id=taken,
    )


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            [("1", "DiskLow", 4, None)],
            ["Review rule DiskLow: 4 lone episodes, none part of an incident."],
        ),
        # One of them an incident took later: it is not counted as lone, and the line says so.
        (
            [("1", "DiskLow", 3, None), ("2", "DiskLow", 1, "inc-1")],
            ["Review rule DiskLow: 3 lone episodes, 1 more part of an incident."],
        ),
        # Only two lone episodes left once the taken one is set apart: not worth a review.
        ([("1", "DiskLow", 2, None), ("2", "DiskLow", 2, "inc-1")], []),
    ],
)
def test_a_rule_review_counts_only_the_episodes_that_stayed_alone(entries, expected):
    digest = NoiseDigest("d1", 0, 10 * S)
    digest.entries = {f: _entry(f, n, c, t) for f, n, c, t in entries}
    assert render_digest("prod", digest, ends=False)["recommendations"] == expected


def test_a_lone_warning_waiting_to_see_flaps_delays_no_announcement():
    settings = IncidentSettings(lateness_s=60.0, lone_max_episodes=3, lone_flap_wait_s=1200.0,
                                **DIGEST)  # fmt: skip
    correlator = DomainCorrelator("c", settings, static_edges=list(CHAIN))
    events = [*FLAPPING_ON_DB[:3], alert("2", "api", 30, severity="critical")]
    # No finish: what comes out once event time (past the 60 s lateness) is at 200 s.
    before = correlator.on_events([*events, anomaly("web", 200)], wall_ns=0)
    assert [d.record.kind for d in before if d.stream == "notifications"] == ["incident_opened"]
    waiting = DomainCorrelator("c", settings, static_edges=list(CHAIN))
    alone = waiting.on_events([*FLAPPING_ON_DB[:3], anomaly("web", 600)], wall_ns=0)
    assert not [d for d in alone if d.stream == "incidents"]  # still waiting at 600 s
    # Event time past the wait (the reorder buffer releases 1300 s once 1400 s is seen).
    later = waiting.on_events([anomaly("web", 1300), anomaly("web", 1400)], wall_ns=0)
    assert [sorted(m.id for m in r.members if m.kind == "alert") for r in latest(later)] == [["1"]]


def test_a_lone_warning_held_open_to_see_flaps_ends_when_it_went_quiet():
    later = [anomaly("web", 3000), anomaly("web", 3100)]  # event time past the wait
    ends = []
    for most in (3, None):
        settings = IncidentSettings(lateness_s=60.0, lone_max_episodes=most,
                                    lone_flap_wait_s=1200.0, **DIGEST)  # fmt: skip
        correlator = DomainCorrelator("c", settings, static_edges=list(CHAIN))
        (record,) = latest(correlator.on_events([*FLAPPING_ON_DB[:4], *later], wall_ns=0))
        assert record.status == "resolved"
        opened, resolved = (datetime.fromisoformat(t) for t in (record.opened_at, record.resolved_at))
        ends.append(resolved - opened)
    # Held open (unseen) to its wait's end at 1200 s, it still ends when it went quiet, as
    # without the wait (its alert at 60 s, its evidence lingering the session gap after).
    assert ends[0] == ends[1] == timedelta(seconds=660)


ALERT0 = {"alertname": "Alert0", "service": "web", "severity": "warning", "cluster": "c"}


def _p99(instance: str, t: int, score: float) -> AnomalySignal:
    labels = {"service": "web", "instance": instance, "cluster": "c"}
    series = f'latency_p99{{instance="{instance}",service="web"}}'
    severity = "critical" if score >= 1 else "warning"
    return AnomalySignal(series, "latency_p99", labels, T0 + t * S, 3.0, 1.0, score, severity,
                         ("ensemble",))  # fmt: skip


def test_an_alert_firing_again_keeps_its_evidence_expiring_on_time():
    """Hypothesis's example: folding added a version, as plain missed an evidence expiry.

    While the alert had resolved, the incident's due time was its quiet deadline; the alert
    firing again at 662 s added back only its own expiry, so i1 (silent since 63 s, hold
    600 s) was not resolved at 663 s until a pending folded version rescanned the incident.
    """

    def fp0(status: str, start: int, end: int | None) -> AlertEvent:
        ends = None if end is None else T0 + end * S
        return AlertEvent("fp0", status, ALERT0, {}, T0 + start * S, ends)

    events = [
        fp0("firing", 0, None), _p99("i0", 62, 0.3), _p99("i1", 63, 1.0),
        fp0("resolved", 0, 363), fp0("firing", 662, None), _p99("i1", 819, 1.0),
        fp0("resolved", 662, 1261),
    ]  # fmt: skip
    plain = _run(events)
    for join_interval_s in (0.0, 60.0):
        folded = _run(events, coalesce_updates=True, join_interval_s=join_interval_s)
        assert _final(folded) == _final(plain)
        count = sum(d.stream == "incidents" for d in folded)
        assert count <= sum(d.stream == "incidents" for d in plain)


def test_an_alert_ended_before_its_incident_was_worth_a_record_is_listed_not_lost():
    """Hypothesis's example: fired and resolved at once, then corroborated by its service.

    Corroboration made it no lone warning, so the digest never took it; it ended before
    any version: no record held it at all.
    """
    events = [
        AlertEvent("fp0", "firing", ALERT0, {}, T0, None),
        AlertEvent("fp0", "resolved", ALERT0, {}, T0, T0),
        _p99("i0", 0, 0.3), _p99("i0", 1, 0.3),
    ]  # fmt: skip
    on = {"noise_digest": True, "coalesce_updates": True, "record_after_s": 60.0}
    records = latest(_run(events, **on))
    assert [[m.id for m in r.members] for r in records] == [["fp0"]]
    assert records[0].kind == "noise"
