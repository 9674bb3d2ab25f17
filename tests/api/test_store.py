"""The store on SQLite and on a real PostgreSQL server: migrations, writer, queries."""

import io
import json

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from alertflow.store import export, migrate, retention
from alertflow.store import tables as t
from alertflow.store.analytics import alert_analytics
from alertflow.store.engine import StoreError, engine_url
from alertflow.store.incidents import (
    IncidentFilter,
    get_incident,
    list_incidents,
    record_action,
)
from alertflow.store.tokens import create_token, owner_of, revoke_token, seed_token
from alertflow.store.writer import StoreWriter

from tests.api.records import MIN, T0, alert, anomaly, incident


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_migrations_reach_head_and_rerun_is_a_no_op(store):
    head = migrate.alembic_config().get_main_option("script_location")
    assert head
    first = migrate.current_revision(store)
    migrate.upgrade(store)  # a second start
    assert first == migrate.current_revision(store) is not None


def test_writer_is_idempotent_and_keeps_the_newest_version(store):
    writer = StoreWriter(store)
    batch = [("incidents", incident(1, 1)), ("incidents", incident(1, 3, status="updated")),
             ("incidents", incident(1, 2, status="updated")), ("anomalies", anomaly(1)),
             ("scores", {"id": "ignored"})]
    writer.write(batch)
    writer.write(batch)  # a replay re-emits the same ids
    writer.write([("incidents", incident(1, 2, status="updated"))])  # an old version, late
    assert _count(store, t.incident_versions) == 3
    assert _count(store, t.anomalies) == 1
    items, _ = list_incidents(store, IncidentFilter())
    assert [(i["incident_id"], i["version"]) for i in items] == [("inc-00001", 3)]
    detail = get_incident(store, "inc-00001")
    assert [v["version"] for v in detail["timeline"]] == [1, 2, 3]
    assert detail["root_causes"][0]["evidence"] == ["p99 latency 4x"]


def test_list_is_newest_first_filtered_and_paged_by_cursor(store):
    writer = StoreWriter(store)
    writer.write(("incidents", incident(n, services=("checkout",) if n % 2 else ("cart", "db"),
                                        severity="critical" if n % 3 else "warning",
                                        status="resolved" if n % 4 == 0 else "open"))
                 for n in range(1, 21))
    seen, cursor = [], None
    while True:
        page, cursor = list_incidents(store, IncidentFilter(), limit=6, cursor=cursor)
        seen += [i["incident_id"] for i in page]
        if cursor is None:
            break
    assert seen == [f"inc-{n:05d}" for n in range(20, 0, -1)]
    cart, _ = list_incidents(store, IncidentFilter(service="cart"))
    assert {i["incident_id"] for i in cart} == {f"inc-{n:05d}" for n in range(2, 21, 2)}
    warn, _ = list_incidents(store, IncidentFilter(severity="warning", status="open"))
    assert {i["incident_id"] for i in warn} == {f"inc-{n:05d}" for n in (3, 6, 9, 15, 18)}
    window, _ = list_incidents(store, IncidentFilter(from_ns=T0 + 18 * MIN, to_ns=T0 + 19 * MIN))
    assert [i["incident_id"] for i in window] == ["inc-00019", "inc-00018", "inc-00017"]
    with pytest.raises(StoreError, match="cursor"):
        list_incidents(store, IncidentFilter(), cursor="not-a-cursor!")


def test_acknowledge_and_resolve_are_kept_across_new_versions(store):
    writer = StoreWriter(store)
    writer.write([("incidents", incident(1))])
    assert record_action(store, "inc-99999", "acknowledge", "alice") is None
    acked = record_action(store, "inc-00001", "acknowledge", "alice", "looking")
    again = record_action(store, "inc-00001", "acknowledge", "bob")
    assert acked["acknowledged_by"] == again["acknowledged_by"] == "alice"  # the first counts
    writer.write([("incidents", incident(1, 2, status="updated"))])
    detail = get_incident(store, "inc-00001")
    assert detail["version"] == 2 and detail["acknowledged_by"] == "alice"
    assert [a["by"] for a in detail["actions"]] == ["alice", "bob"]


def test_analytics_counts_volume_flapping_absorption_and_times(store):
    writer = StoreWriter(store)
    writer.write_alerts([
        alert("fp1"), alert("fp1"),  # a re-send: one notification
        alert("fp1", status="resolved"), alert("fp1", starts=T0 + 5 * MIN),  # flaps
        alert("fp2", rule="DiskFull", service="db"),
    ])
    writer.write([("incidents", incident(0, opened=T0, fingerprints=("fp1",)))])
    record_action(store, "inc-00000", "acknowledge", "alice")
    result = alert_analytics(store, T0 - MIN, T0 + 60 * MIN).as_dict()
    rules = {r["rule"]: r for r in result["rules"]}
    assert rules["HighLatency"]["notifications"] == 2
    assert rules["HighLatency"]["flapping_alerts"] == 1
    assert rules["HighLatency"]["absorbed_share"] == 1.0
    assert rules["DiskFull"]["absorbed_share"] == 0.0
    assert result["noisiest_rules"][0] == "HighLatency"
    assert result["flapping_rules"] == ["HighLatency"]
    assert result["incidents"]["opened"] == 1 and result["incidents"]["acknowledged"] == 1
    assert result["incidents"]["mtta_s"] > 0
    assert result["trend"] == [{"day": "2026-11-25", "notifications": 3, "incidents_opened": 1}]


def test_retention_deletes_old_records_and_resolved_incidents_only(store):
    writer = StoreWriter(store)
    day = 86_400 * 10**9
    writer.write([("anomalies", anomaly(1, T0 - 10 * day)), ("anomalies", anomaly(2, T0)),
                  ("incidents", incident(1, opened=T0 - 10 * day, status="resolved")),
                  ("incidents", incident(2, opened=T0 - 10 * day))])
    deleted = retention.prune(store, days=7, now_ns=T0)
    assert deleted["anomalies"] == 1 and deleted["incidents"] == 1
    assert _count(store, t.anomalies) == 1
    assert [i["incident_id"] for i in list_incidents(store, IncidentFilter())[0]] == ["inc-00002"]
    assert _count(store, t.incident_versions) == 1


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_export_streams_every_record_in_range_in_each_format(store, fmt):
    StoreWriter(store).write(("anomalies", anomaly(n)) for n in range(25))
    out = io.BytesIO()
    chunks = export.batches(store, "anomalies", T0 + 5 * 10**9, T0 + 20 * 10**9, size=4)
    assert export.write(out, "anomalies", fmt, chunks) == 15
    data = out.getvalue()
    if fmt == "json":
        ids = [json.loads(line)["id"] for line in data.splitlines()]
    elif fmt == "csv":
        lines = data.decode().splitlines()
        assert lines[0].startswith("id,series,name,labels")
        ids = [line.split(",", 1)[0] for line in lines[1:]]
    else:
        table = pq.read_table(io.BytesIO(data))
        assert table.schema.field("score").type == "double"
        ids = table.column("id").to_pylist()
    assert ids == [f"a-{n}" for n in range(5, 20)]


def test_tokens_are_hashed_scoped_and_revocable(store):
    token_id, token = create_token(store, "ci", "act")
    with store.connect() as conn:
        stored = conn.execute(sa.select(t.api_tokens.c.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1
    owner = owner_of(store, token)
    assert owner.scope == "act" and owner.allows("read") and not owner.allows("admin")
    seed_token(store, "from-env")
    seed_token(store, "from-env")
    assert owner_of(store, "from-env").scope == "admin"
    assert revoke_token(store, token_id)
    assert owner_of(store, token) is None and owner_of(store, "wrong") is None


def test_store_urls():
    assert engine_url("postgres://h/db") == "postgresql+psycopg://h/db"
    with pytest.raises(StoreError, match="expected sqlite"):
        engine_url("mysql://h/db")


def test_migration_0002_fills_the_service_order_of_existing_incidents(tmp_path, request):
    """A store made by 0001 with incidents in it, upgraded: its service filter still works."""
    from alertflow.store.engine import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        for n in (1, 2):
            conn.execute(t.incidents.insert().values(
                incident_id=f"inc-{n}", version=1, status="open", severity="critical",
                domain="prod", opened_ns=T0 + n, updated_ns=T0 + n, doc=json.dumps(incident(n))))
            conn.execute(sa.text("INSERT INTO incident_services (incident_id, service) "
                                 "VALUES (:i, 'checkout')"), {"i": f"inc-{n}"})
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == "0003"
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.incident_services.c.opened_ns)
                            .order_by(t.incident_services.c.opened_ns)).scalars().all() == [T0 + 1, T0 + 2]
    items, _ = list_incidents(engine, IncidentFilter(service="checkout"))
    assert [i["incident_id"] for i in items] == ["inc-00002", "inc-00001"]
