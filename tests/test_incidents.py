"""Alert dedup, sessions and lifecycle, driven with injected time."""

import dataclasses

import pytest
from alertflow.operators.correlation.incidents import IncidentGrouper, IncidentSettings
from alertflow.schemas.jsoncodec import loads
from alertflow.schemas.outputs import Incident, Notification
from alertflow.schemas.records import AlertEvent

S = 10**9
T0 = 1_795_600_800 * S


def alert(fp, status="firing", start=0, end=None, service="api", severity="warning", name="X"):
    return AlertEvent(
        fingerprint=fp,
        status=status,
        labels={"alertname": name, "service": service, "severity": severity, "cluster": "c"},
        annotations={"runbook_url": f"https://runbooks/{name}"},
        starts_ns=T0 + start * S,
        ends_ns=None if end is None else T0 + end * S,
        ref=f"alerts:{fp}:{status}:{start}",
    )


def feed(grouper, events, wall=0):
    out = []
    for event in events:
        out.extend(grouper.on_alert(event, wall))
    return out


def streams(decisions):
    return [(d.stream, getattr(d.record, "status", None) or d.record.kind) for d in decisions]


def test_resend_is_deduplicated():
    g = IncidentGrouper("c")
    out = feed(g, [alert("a"), alert("a"), alert("a")])
    assert streams(out) == [("incidents", "open")]
    (incident,) = g.incidents.values()
    assert incident.members["a"].count == 3


def test_alerts_close_in_time_share_an_incident_and_distant_ones_do_not():
    g = IncidentGrouper("c", IncidentSettings(session_gap_s=600))
    out = feed(
        g,
        [
            alert("a", start=0),
            alert("b", start=300, service="db"),
            alert("c", start=5000, service="web"),
        ],
    )
    ids = {d.record.incident_id for d in out if d.stream == "incidents"}
    assert len(ids) == 2
    assert len(g.incidents) == 2


def test_lifecycle_resolves_after_quiet_period_in_event_time():
    g = IncidentGrouper("c", IncidentSettings(quiet_period_s=300, lateness_s=0))
    feed(g, [alert("a", start=0), alert("b", start=60, service="db")])
    out = feed(g, [alert("a", "resolved", 0, 600), alert("b", "resolved", 60, 620)])
    assert all(d.record.status == "updated" for d in out if d.stream == "incidents")
    assert len(g.incidents) == 1
    # Another domain event later moves the watermark past the quiet period.
    out = feed(g, [alert("z", start=2000, service="web")])
    resolved = [d.record for d in out if d.stream == "incidents" and d.record.status == "resolved"]
    assert len(resolved) == 1
    assert resolved[0].resolved_at.startswith("2026-11-25T10:15:20")
    assert "incident_resolved" in [d.record.kind for d in out if d.stream == "notifications"]
    assert len(g.incidents) == 1  # the resolved one was evicted, the new one stays
    assert set(g.by_fingerprint) == {"z"}


def test_idle_wall_time_advances_the_watermark():
    g = IncidentGrouper("c", IncidentSettings(quiet_period_s=300, lateness_s=0))
    feed(g, [alert("a", start=0), alert("a", "resolved", 0, 100)], wall=0)
    assert g.on_tick(wall_ns=100 * S) == []
    deadline = g.next_deadline_wall()
    assert deadline == 300 * S
    assert any(
        d.record.status == "resolved"
        for d in g.on_tick(wall_ns=deadline)
        if d.stream == "incidents"
    )


def test_escalation_is_notified_but_plain_updates_are_not():
    g = IncidentGrouper("c")
    feed(g, [alert("a")])
    out = feed(
        g, [alert("b", start=30, severity="warning"), alert("c", start=40, severity="critical")]
    )
    kinds = [d.record.kind for d in out if d.stream == "notifications"]
    assert kinds == ["incident_opened", "incident_escalated"]


def test_flush_resolves_finished_incidents_only():
    g = IncidentGrouper("c", IncidentSettings(quiet_period_s=3600))
    feed(g, [alert("a"), alert("a", "resolved", 0, 60), alert("b", start=1000)])
    assert len(g.incidents) == 2
    out = g.flush()
    assert [d.record.status for d in out if d.stream == "incidents"] == ["resolved"]
    assert len(g.incidents) == 1


def test_stale_firing_member_expires():
    g = IncidentGrouper("c", IncidentSettings(stale_after_s=3600, quiet_period_s=0, lateness_s=0))
    feed(g, [alert("a")])
    out = feed(g, [alert("x", start=20000, service="web")])
    assert any(d.stream == "incidents" and d.record.status == "resolved" for d in out)


def test_resolve_for_unknown_alert_opens_nothing():
    g = IncidentGrouper("c")
    assert feed(g, [alert("a", "resolved", 0, 10)]) == []
    assert not g.incidents


def test_root_cause_is_the_earliest_service_with_evidence_and_runbooks():
    g = IncidentGrouper("c")
    out = feed(
        g,
        [
            alert("a", start=0, service="db", name="Slow"),
            alert("b", start=400, service="api", name="Errors"),
        ],
    )
    last = [d.record for d in out if d.stream == "incidents"][-1]
    assert [c.service for c in last.root_causes] == ["db", "api"]
    assert "earliest" in last.root_causes[0].evidence[0]
    assert "Runbook: https://runbooks/Slow" in last.recommendations


def test_versions_and_ids_are_deterministic():
    events = [alert("a"), alert("b", start=30), alert("a", "resolved", 0, 100)]
    one = [d.record.id for d in feed(IncidentGrouper("c"), events)]
    two = [d.record.id for d in feed(IncidentGrouper("c"), events)]
    assert one == two and len(set(one)) == len(one)


def notes(decisions):
    return [d.record.kind for d in decisions if d.stream == "notifications"]


def test_lone_warning_is_announced_only_after_firing_a_while():
    g = IncidentGrouper("c", IncidentSettings(notify_after_s=300, lateness_s=0))
    assert notes(feed(g, [alert("a")], wall=0)) == []
    assert g.next_deadline_wall() == 300 * S
    assert notes(g.on_tick(wall_ns=299 * S)) == []
    assert notes(g.on_tick(wall_ns=300 * S)) == ["incident_opened"]
    assert notes(feed(g, [alert("a", "resolved", 0, 400)], wall=400 * S)) == []
    assert notes(g.flush()) == ["incident_resolved"]


def test_a_blip_is_never_announced():
    g = IncidentGrouper("c", IncidentSettings(notify_after_s=300, lateness_s=0))
    out = feed(g, [alert("a"), alert("a", "resolved", 0, 60)]) + g.flush()
    assert notes(out) == []
    assert [d.record.status for d in out if d.stream == "incidents"][-1] == "resolved"


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([alert("a", severity="critical")], ["incident_opened"]),
        ([alert("a"), alert("b", start=10, service="db")], ["incident_opened"]),
        ([alert("a")], []),
    ],
)
def test_what_is_announced_at_once(events, expected):
    assert notes(feed(IncidentGrouper("c"), events)) == expected


def _flapping(period_s, episodes, up_s=300):
    """A critical alert that fires for ``up_s`` every ``period_s``, as a badly tuned rule does."""
    events = []
    for k in range(episodes):
        start = k * period_s
        events += [
            alert("f", start=start, severity="critical", name="Flappy"),
            alert("f", "resolved", start, start + up_s, severity="critical", name="Flappy"),
        ]
    return events


def _opened(out):
    return [d.record.incident_id for d in out if d.stream == "notifications"
            and d.record.kind == "incident_opened"]  # fmt: skip


@pytest.mark.parametrize(("window_s", "incidents"), [(3600.0, 2), (1.0, 6)])
def test_a_flapping_alert_is_damped_into_one_open_incident(window_s, incidents):
    settings = IncidentSettings(quiet_period_s=300, lateness_s=0, flap_window_s=window_s)
    g = IncidentGrouper("c", settings)
    out = feed(g, _flapping(period_s=1200, episodes=6))
    out += g.flush()
    opened = _opened(out)
    assert len(opened) == len(set(opened)) == incidents
    last = [d.record for d in out if d.stream == "incidents"][-1]
    assert last.status == "resolved"
    if window_s > 1:
        # The second episode marks it flapping; the next ones re-fire the same incident.
        (member,) = last.members
        assert member.episodes == 4  # the starts within the hour before the last one
        assert "flapping: Flappy (4x)" in last.summary


def test_a_flapping_incident_waits_its_hold_then_resolves():
    g = IncidentGrouper("c", IncidentSettings(quiet_period_s=300, lateness_s=0))
    feed(g, _flapping(period_s=1200, episodes=2))
    (incident,) = g.incidents.values()
    assert incident.members["f"].hold_ns == 1800 * S  # 1.5x the 1,200 s between its starts
    # Quiet for less than the hold: still open; past it: resolved.
    assert feed(g, [alert("z", start=1500 + 1700, service="web")]) and len(g.incidents) == 2
    out = feed(g, [alert("y", start=1500 + 1801, service="web")])
    resolved = [d.record for d in out if d.stream == "incidents" and d.record.status == "resolved"]
    assert [r.members[0].id for r in resolved] == ["f"]


def test_a_late_copy_of_a_flapping_alerts_last_episode_opens_nothing():
    g = IncidentGrouper("c", IncidentSettings(quiet_period_s=300, lateness_s=0))
    out = feed(g, _flapping(period_s=1200, episodes=3))
    out += feed(g, [alert("z", start=9000, service="web")])  # past every hold: all closed
    assert "f" not in g.by_fingerprint
    late = feed(g, [alert("f", start=2400, severity="critical", name="Flappy")])
    assert "f" not in g.by_fingerprint
    assert not _opened(late)


def _apart():
    """Two call chains with nothing between them: the graph says api and batch are unrelated."""
    g = IncidentGrouper("c", IncidentSettings(lateness_s=0, max_hops=2))
    g.graph.add_static([("web", "api"), ("cron", "batch")])
    return g


def _labelled(fp, start, service, name="HighErrorRate", **labels):
    event = alert(fp, start=start, service=service, name=name)
    return dataclasses.replace(event, labels={**event.labels, **labels})


@pytest.mark.parametrize(
    ("second", "together"),
    [
        (_labelled("b", 60, "batch", name="DiskFull"), False),  # unrelated in the graph, other kind
        (_labelled("b", 60, "batch", name="DiskFull", node="n1"), True),  # the same node
        (_labelled("b", 60, "batch", name="DiskFull", node="n2"), False),  # another node
        (
            _labelled("b", 60, "batch", name="HighErrorRate"),
            True,
        ),  # the same kind, 60 s apart: a storm
        (_labelled("b", 600, "batch", name="HighErrorRate"), False),  # the same kind, too far apart
    ],
)
def test_alerts_unrelated_in_the_graph_join_by_a_shared_node_or_their_kind(second, together):
    g = _apart()
    first = _labelled("a", 0, "api", name="HighErrorRate", node="n1")
    feed(g, [first, second])
    assert (len(g.incidents) == 1) is together


def test_records_built_unvalidated_still_pass_their_schema():
    # render_incident skips pydantic's validation for speed; the records must not need it.
    g = _apart()
    out = feed(g, [_labelled("a", 0, "api", node="n1"), _labelled("b", 60, "batch", node="n1")])
    out += feed(g, _flapping(period_s=1200, episodes=3)) + g.flush()
    models = {"incidents": Incident, "notifications": Notification}
    for decision in out:
        model = models[decision.stream]
        from_json = model.model_validate_json(decision.encode())
        record = decision.record
        assert from_json == (model.model_validate(record) if isinstance(record, dict) else record)
        assert from_json.model_dump(mode="json") == loads(decision.encode())


def _outage(g, hour, fp_suffix):
    """db goes down, api slows 60 s later, both resolve 10 minutes on: one more occasion."""
    t = hour * 3600
    events = [
        _labelled(f"db{fp_suffix}", t, "db", name="DBDown"),
        _labelled(f"api{fp_suffix}", t + 60, "api", name="HighLatency"),
        alert(f"db{fp_suffix}", "resolved", t, t + 600, service="db", name="DBDown"),
        alert(f"api{fp_suffix}", "resolved", t + 60, t + 620, service="api", name="HighLatency"),
    ]
    return feed(g, events)


@pytest.mark.parametrize("learned", [True, False])
def test_a_learned_inhibit_rule_attaches_the_usual_symptom_the_graph_cannot(learned):
    settings = IncidentSettings(lateness_s=0, max_hops=2, learned_inhibition=learned)
    g = IncidentGrouper("c", settings)
    g.graph.add_static([("web", "api"), ("cron", "db")])  # the graph says: unrelated
    for hour in range(3):  # three occasions teach the rule (support 3)
        _outage(g, hour * 2, hour)
        assert all(len({m[:2] for m in i.members}) == 1 for i in g.incidents.values())
    out = _outage(g, 8, "x")
    last = {d.record.incident_id: d.record for d in out if d.stream == "incidents"}
    with_api = [r for r in last.values() if any(m.id == "apix" for m in r.members)]
    together = any(m.id == "dbx" for m in with_api[0].members)
    assert together is learned
    if learned:
        (record,) = with_api
        assert record.root_causes[0].service == "db"
        api = next(c for c in record.root_causes if c.service == "api")
        # The fourth DBDown is counted; its window, holding this HighLatency, is still open.
        assert "learned: HighLatency@api followed DBDown@db in 3 of 4 episodes" in api.evidence
