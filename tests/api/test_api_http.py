"""The REST and GraphQL API on a real HTTP server (uvicorn), through an HTTP client."""

import io
import json

import pyarrow.parquet as pq
from alertflow.schemas.config_analytics import AnalyticsConfig
from alertflow.store.writer import StoreWriter

from tests.api.conftest import ADMIN
from tests.api.records import MIN, T0, alert, anomaly, incident

PAYLOAD = {
    "version": "4", "status": "firing", "receiver": "alertflow",
    "alerts": [{"status": "firing", "labels": {"alertname": "HighLatency", "service": "checkout"},
                "startsAt": "2026-11-25T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "a1b2c3d4"}],
}


def _seed(api, n=5):
    StoreWriter(api.ctx.engine).write(("incidents", incident(i)) for i in range(1, n + 1))


def _token(api, scope):
    created = api.post("/api/v1/tokens", json={"name": f"{scope}-user", "scope": scope})
    assert created.status_code == 201
    return created.json()


def test_every_route_but_healthz_needs_a_token_with_the_right_scope(api):
    assert api.get("/healthz").json()["status"] == "ok"
    bare = {"Authorization": ""}
    assert api.get("/api/v1/incidents", headers=bare).status_code == 401
    assert api.get("/api/v1/incidents", headers={"Authorization": "Bearer nope"}).status_code == 401
    reader = {"Authorization": f"Bearer {_token(api, 'read')['token']}"}
    assert api.get("/api/v1/incidents", headers=reader).status_code == 200
    refused = api.post("/api/v1/alerts/alertmanager", json=PAYLOAD, headers=reader)
    assert refused.status_code == 403 and "needs 'act'" in refused.json()["detail"]
    assert api.get("/api/v1/tokens", headers=reader).status_code == 403
    listed = api.get("/api/v1/tokens").json()
    assert {t["scope"] for t in listed} == {"admin", "read"}
    assert all("token" not in t for t in listed)


def test_revoked_token_stops_working(api):
    made = _token(api, "act")
    headers = {"Authorization": f"Bearer {made['token']}"}
    assert api.get("/api/v1/incidents", headers=headers).status_code == 200
    assert api.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    assert api.get("/api/v1/incidents", headers=headers).status_code == 401


def test_incident_list_newest_first_with_filters_and_cursor(api):
    _seed(api, 7)
    first = api.get("/api/v1/incidents", params={"limit": 3}).json()
    assert [i["incident_id"] for i in first["items"]] == ["inc-00007", "inc-00006", "inc-00005"]
    from alertflow.api.models import IncidentPage

    IncidentPage.model_validate(first)  # the spliced answer is what the schema says
    item = first["items"][0]
    assert {"incident_id", "status", "services", "root_causes"} <= set(item)
    rest = api.get("/api/v1/incidents", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert [i["incident_id"] for i in rest["items"]] == [f"inc-0000{n}" for n in (4, 3, 2, 1)]
    assert rest["next_cursor"] is None
    assert api.get("/api/v1/incidents", params={"service": "nope"}).json()["items"] == []
    ranged = api.get("/api/v1/incidents", params={"from": "2026-11-25T10:07:00Z"}).json()
    assert {i["incident_id"] for i in ranged["items"]} == {"inc-00006", "inc-00007"}
    bad = api.get("/api/v1/incidents", params={"from": "yesterday"})
    assert bad.status_code == 400 and "from" in bad.json()["detail"]
    assert api.get("/api/v1/incidents", params={"cursor": "xx"}).status_code == 400


def test_incident_detail_ack_resolve_and_verdict_reaching_the_flow(api):
    _seed(api, 1)
    detail = api.get("/api/v1/incidents/inc-00001").json()
    assert detail["timeline"][0]["version"] == 1 and detail["members"][0]["id"] == "fp1"
    assert detail["root_causes"][0]["evidence"] == ["p99 latency 4x"]
    assert api.get("/api/v1/incidents/missing").status_code == 404
    acked = api.post("/api/v1/incidents/inc-00001/acknowledge", json={"note": "on it"}).json()
    assert acked["acknowledged_by"] == "admin (environment)" and acked["acknowledged_at"]
    listed = api.get("/api/v1/incidents").json()["items"][0]
    assert listed["acknowledged_at"] == acked["acknowledged_at"] and listed["version"] == 1
    assert api.post("/api/v1/incidents/inc-00001/resolve").json()["operator_resolved_at"]
    given = api.post("/api/v1/incidents/inc-00001/verdict",
                     json={"verdict": "noise", "severity": "info"})
    assert given.status_code == 202 and given.json()["target"] == "inc-00001"
    sent = api.queues["feedback"].drain(10)
    message = json.loads(sent[0].value())
    assert message["target"] == "inc-00001" and message["verdict"] == "noise"
    from alertflow.schemas.feedback import decode_feedback

    assert decode_feedback(sent[0].value())[0].verdict == "noise"  # the flow's own decoder
    actions = api.get("/api/v1/incidents/inc-00001").json()["actions"]
    assert [a["action"] for a in actions] == ["acknowledge", "resolve", "verdict"]
    assert api.post("/api/v1/incidents/inc-00001/verdict", json={"verdict": "meh"}).status_code == 422


def test_alertmanager_intake_queues_good_payloads_and_dead_letters_bad_ones(api):
    good = api.post("/api/v1/alerts/alertmanager", json=PAYLOAD)
    assert good.status_code == 202 and good.json()["records"] == 1
    assert json.loads(api.queues["alerts"].drain(10)[0].value()) == PAYLOAD
    bad = api.post("/api/v1/alerts/alertmanager", json={**PAYLOAD, "version": "3"})
    assert bad.status_code == 422 and "version" in bad.json()["detail"]
    dead = api.get("/api/v1/dead-letters").json()
    assert dead[0]["stream"] == "alerts" and "version" in dead[0]["reason"]
    assert api.queues["alerts"].drain(10) == []
    huge = api.post("/api/v1/alerts/alertmanager", content=b" " * (65 * 1024))
    assert huge.status_code == 413
    assert len(api.get("/api/v1/dead-letters").json()) == 2


def test_full_queue_answers_503_with_retry_after_instead_of_buffering(api):
    codes = [api.post("/api/v1/alerts/alertmanager", json=PAYLOAD).status_code for _ in range(10)]
    assert codes == [202] * 8 + [503] * 2
    refused = api.post("/api/v1/alerts/alertmanager", json=PAYLOAD)
    assert refused.headers["Retry-After"] == "1"
    assert len(api.queues["alerts"]) == 8


def test_generic_events_take_what_the_flow_takes(api):
    sample = {"timestamp": "2026-11-25T10:00:00Z", "value": 1.5, "name": "latency",
              "labels": {"service": "checkout"}}
    assert api.post("/api/v1/events/metrics", json=sample).status_code == 202
    line = {"timestamp": "2026-11-25T10:00:00Z", "service": "checkout", "level": "error",
            "message": "timeout"}
    assert api.post("/api/v1/events/logs", json=line).status_code == 202
    bad = api.post("/api/v1/events/metrics", json={"value": "x"})
    assert bad.status_code == 422 and bad.json()["detail"]
    assert api.post("/api/v1/events/traces", json={}).status_code == 404  # not an input here
    assert api.post("/api/v1/events/bogus", json={}).status_code == 422


def test_graphql_queries_and_mutations(api):
    _seed(api, 3)
    query = """{ incidents(first: 2) { items { incidentId status services
                 rootCauses { service score evidence } } nextCursor } }"""
    page = api.post("/graphql", json={"query": query}).json()["data"]["incidents"]
    assert [i["incidentId"] for i in page["items"]] == ["inc-00003", "inc-00002"]
    assert page["items"][0]["rootCauses"][0]["evidence"] == ["p99 latency 4x"]
    one = api.post("/graphql", json={"query": '{ incident(id: "inc-00001") { version '
                                      'members { id labels } timeline { version } } }'}).json()
    assert one["data"]["incident"]["members"][0]["labels"] == {"alertname": "HighLatency"}
    ack = api.post("/graphql", json={"query": 'mutation { acknowledge(id: "inc-00001") '
                                     '{ acknowledgedBy } }'}).json()
    assert ack["data"]["acknowledge"]["acknowledgedBy"] == "admin (environment)"
    reader = {"Authorization": f"Bearer {_token(api, 'read')['token']}"}
    denied = api.post("/graphql", headers=reader,
                      json={"query": 'mutation { resolve(id: "inc-00001") { status } }'}).json()
    assert "needs 'act'" in denied["errors"][0]["message"]
    assert api.post("/graphql", headers={"Authorization": ""},
                    json={"query": "{ incidents { nextCursor } }"}).status_code == 401


def test_analytics_json_and_prometheus_text(api):
    writer = StoreWriter(api.ctx.engine)
    writer.write_alerts([alert("fp1"), alert("fp1", starts=T0 + 5 * MIN), alert("fp9", "DiskFull")])
    writer.write([("incidents", incident(0, opened=T0))])
    data = api.get("/api/v1/analytics/alerts",
                   params={"from": "2026-11-25T00:00:00Z", "to": "2026-11-26T00:00:00Z"}).json()
    assert data["noisiest_rules"] == ["HighLatency", "DiskFull"]
    assert data["flapping_rules"] == ["HighLatency"]
    text = api.get("/metrics", params={"days": 366}).text
    assert 'alertflow_alert_notifications_by_rule{rule="HighLatency"} 2.0' in text
    assert 'alertflow_alerts_absorbed_ratio_by_rule{rule="DiskFull"} 0.0' in text


def test_analytics_per_team_over_rest_graphql_and_metrics(api):
    api.ctx.analytics = AnalyticsConfig(teams={"db": "storage"})
    writer = StoreWriter(api.ctx.engine)
    writer.write_alerts([alert("fp1", team="payments"), alert("fp2", "DiskFull", service="db")])
    writer.write([("incidents", incident(0, opened=T0, fingerprints=("fp2",)))])
    window = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-26T00:00:00Z"}
    data = api.get("/api/v1/analytics/alerts", params=window).json()
    assert {r["team"]: r["notifications"] for r in data["teams"]} == {"payments": 1, "storage": 1}
    assert data["weekly"] == [{"week": "2026-11-23", "notifications": 2, "incidents_opened": 1}]
    one = api.get("/api/v1/analytics/alerts", params={**window, "team": "storage"}).json()
    assert [r["rule"] for r in one["rules"]] == ["DiskFull"] and one["incidents"]["opened"] == 1
    query = '{ alertAnalytics(days: 366, team: "payments") { from team teams { team alerts } } }'
    got = api.post("/graphql", json={"query": query}).json()["data"]["alertAnalytics"]
    assert got["team"] == "payments" and got["teams"] == [{"team": "payments", "alerts": 1}]
    text = api.get("/metrics", params={"days": 366}).text
    assert 'alertflow_alert_notifications_by_team{team="storage"} 1.0' in text
    assert 'alertflow_incidents_by_team{team="storage"} 1.0' in text
    assert "alertflow_incident_mtta_seconds_by_team{" not in text  # nobody acknowledged yet


def test_export_through_the_api(api):
    StoreWriter(api.ctx.engine).write(("anomalies", anomaly(n)) for n in range(12))
    lines = api.get("/api/v1/export/anomalies", params={"format": "json"}).text.splitlines()
    assert [json.loads(x)["id"] for x in lines] == [f"a-{n}" for n in range(12)]
    csv_text = api.get("/api/v1/export/anomalies", params={"format": "csv", "to": T0 + 3 * 10**9})
    assert len(csv_text.text.splitlines()) == 4  # the header and three rows
    parquet = api.get("/api/v1/export/anomalies", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 12
    assert api.get("/api/v1/export/secrets").status_code == 422


def test_openapi_is_served_and_matches_the_exported_file(api):
    served = api.get("/openapi.json").json()
    paths = set(served["paths"])
    assert {"/api/v1/alerts/alertmanager", "/api/v1/incidents", "/api/v1/incidents/{incident_id}",
            "/healthz", "/graphql"} <= paths
    from pathlib import Path

    exported = json.loads((Path(__file__).parents[2] / "api" / "openapi.json").read_text())
    assert exported == served, "api/openapi.json is stale: run python -m alertflow.api.openapi"
    assert ADMIN not in json.dumps(served)


def test_anomalies_and_predictions_newest_first_by_cursor_or_by_id(api):
    writer = StoreWriter(api.ctx.engine)
    writer.write(("anomalies", anomaly(n)) for n in range(7))
    writer.write([("predictions", {"id": "p1", "series": "disk", "ts": "2026-11-25T10:00:00Z",
                                   "horizon_s": 3600})])
    first = api.get("/api/v1/anomalies", params={"limit": 4}).json()
    assert [a["id"] for a in first["items"]] == ["a-6", "a-5", "a-4", "a-3"]
    rest = api.get("/api/v1/anomalies", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert [a["id"] for a in rest["items"]] == ["a-2", "a-1", "a-0"] and rest["next_cursor"] is None
    picked = api.get("/api/v1/anomalies", params=[("id", "a-1"), ("id", "a-5"), ("id", "zz")]).json()
    assert {a["id"] for a in picked["items"]} == {"a-1", "a-5"}
    ranged = api.get("/api/v1/anomalies", params={"from": T0 + 5 * 10**9}).json()
    assert [a["id"] for a in ranged["items"]] == ["a-6", "a-5"]
    assert api.get("/api/v1/predictions").json()["items"][0]["horizon_s"] == 3600
