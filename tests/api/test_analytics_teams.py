"""Alert analytics per team: the team label, the service -> team mapping, per-team times."""

import sqlalchemy as sa
from alertflow.schemas.config_analytics import UNASSIGNED, AnalyticsConfig
from alertflow.store import migrate
from alertflow.store import tables as t
from alertflow.store.analytics import DAY_NS, alert_analytics
from alertflow.store.writer import StoreWriter

from tests.api.records import MIN, T0, alert, incident

TEAMS = AnalyticsConfig(teams={"db": "storage", "checkout": "shop"})


def _times(store, incident_id: str, acked: int, resolved: int) -> None:
    c = t.incidents.c
    with store.begin() as conn:
        conn.execute(
            sa.update(t.incidents)
            .where(c.incident_id == incident_id)
            .values(acked_ns=acked, op_resolved_ns=resolved)
        )


def _fill(store) -> None:
    writer = StoreWriter(store)
    writer.write_alerts([
        alert("fp1", team="payments"),
        alert("fp1", team="payments", starts=T0 + 5 * MIN),  # flaps
        alert("fp2", rule="DiskFull", service="db"),  # no label: the mapping names storage
        alert("fp3", rule="Noise", service="web"),  # neither: unassigned
        alert("fp4", rule="DiskFull", service="db", starts=T0 + 8 * DAY_NS),  # a week later
    ])
    writer.write([
        ("incidents", incident(0, opened=T0, fingerprints=("fp1",))),
        ("incidents", incident(1, opened=T0 + MIN, services=("db",), fingerprints=("fp2",))),
    ])
    _times(store, "inc-00000", T0 + 2 * MIN, T0 + 10 * MIN)
    _times(store, "inc-00001", T0 + 5 * MIN, T0 + 61 * MIN)


def test_teams_come_from_the_label_then_the_mapping_then_unassigned(store):
    _fill(store)
    result = alert_analytics(store, T0 - MIN, T0 + 14 * DAY_NS, TEAMS).as_dict()
    teams = {r["team"]: r for r in result["teams"]}
    # fp1's label wins over checkout's mapping; incident 0 counts for both (its service's team)
    assert set(teams) == {"payments", "storage", UNASSIGNED, "shop"}
    assert teams["payments"]["notifications"] == 2 and teams["payments"]["flapping_alerts"] == 1
    assert teams["payments"]["noisiest_rule"] == "HighLatency"
    assert teams["payments"]["mtta_s"] == 120.0 and teams["payments"]["mttr_s"] == 600.0
    assert teams["storage"]["alerts"] == 2 and teams["storage"]["absorbed_share"] == 0.5
    assert teams["storage"]["mtta_s"] == 240.0 and teams["storage"]["mttr_s"] == 3600.0
    assert teams[UNASSIGNED]["incidents"] == 0 and teams[UNASSIGNED]["mtta_s"] is None
    assert teams["shop"]["notifications"] == 0 and teams["shop"]["incidents"] == 1
    rules = {r["rule"]: r for r in result["rules"]}
    assert rules["DiskFull"]["mttr_s"] == 3600.0 and rules["HighLatency"]["mtta_s"] == 120.0
    assert result["incidents"]["mtta_s"] == 180.0  # (120 + 240) / 2


def test_a_team_filter_keeps_only_that_teams_alerts_incidents_and_trends(store):
    _fill(store)
    result = alert_analytics(store, T0 - MIN, T0 + 14 * DAY_NS, TEAMS, team="storage").as_dict()
    assert result["team"] == "storage"
    assert [r["rule"] for r in result["rules"]] == ["DiskFull"]
    assert [r["service"] for r in result["services"]] == ["db"]
    assert [r["team"] for r in result["teams"]] == ["storage"]
    assert result["incidents"]["opened"] == 1 and result["incidents"]["mttr_s"] == 3600.0
    assert [d["notifications"] for d in result["trend"]] == [1, 1]
    # 2026-11-25 is a Wednesday: its week starts Monday 11-23; eight days on, the next week
    assert result["weekly"] == [
        {"week": "2026-11-23", "notifications": 1, "incidents_opened": 1},
        {"week": "2026-11-30", "notifications": 1, "incidents_opened": 0},
    ]


def test_an_unknown_team_gets_empty_figures(store):
    _fill(store)
    result = alert_analytics(store, T0 - MIN, T0 + DAY_NS, TEAMS, team="nobody").as_dict()
    assert result["rules"] == result["teams"] == result["trend"] == []
    assert result["incidents"]["opened"] == 0


def test_a_configured_team_label_is_read_when_alerts_are_stored(store):
    event = alert("fp9")
    event.labels["owner_team"] = "sre"
    StoreWriter(store, team_label="owner_team").write_alerts([event])
    result = alert_analytics(store, T0 - MIN, T0 + MIN).as_dict()
    assert [r["team"] for r in result["teams"]] == ["sre"]


def test_migration_0003_keeps_alerts_stored_before_it(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO alerts (id, fingerprint, rule, service, status, starts_ns, event_ns)"
            f" VALUES ('a', 'fp', 'DiskFull', 'db', 'firing', {T0}, {T0})"
        ))
    migrate.upgrade(engine)
    result = alert_analytics(engine, T0 - MIN, T0 + MIN, TEAMS).as_dict()
    assert [(r["team"], r["notifications"]) for r in result["teams"]] == [("storage", 1)]
