"""``/api/v1/silences`` on a real HTTP server: the file it writes is the one the flow reads."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alertflow.dataflows.notify_sink import SilenceFile as FlowSilences
from alertflow.operators.delivery.silences import load_silences
from alertflow.store.tokens import create_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.console_server import console_server

ADMIN = "admin-token-for-silence-tests"


@pytest.fixture
def client(tmp_path):
    with console_server(tmp_path, ADMIN) as (server, ctx), httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    ) as c:
        c.ctx = ctx
        yield c


def test_create_list_expire_round_trip_through_the_flows_reader(client):
    made = client.post("/api/v1/silences", json={
        "matchers": ["service=checkout", "severity!=info"], "duration_s": 3600,
        "comment": "deploy"})
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["state"] == "active" and silence["created_by"] == "admin (environment)"
    listed = client.get("/api/v1/silences").json()["silences"]
    assert [s["id"] for s in listed] == [silence["id"]]

    flow = FlowSilences(client.ctx.silences_file, check_every_s=0)
    (seen,) = flow.current()
    now = datetime.now(UTC)
    assert seen.id == silence["id"]
    assert seen.covers(now, {"service": ("checkout",), "severity": ("critical",)})
    assert not seen.covers(now, {"service": ("checkout",), "severity": ("info",)})

    gone = client.delete(f"/api/v1/silences/{silence['id']}")
    assert gone.status_code == 200 and gone.json()["state"] == "expired"
    assert client.get("/api/v1/silences").json()["silences"] == []
    expired = client.get("/api/v1/silences", params={"expired": "true"}).json()["silences"]
    assert [s["state"] for s in expired] == ["expired"]
    (after,) = FlowSilences(client.ctx.silences_file, check_every_s=0).current()
    assert not after.covers(datetime.now(UTC), {"service": ("checkout",)})


def test_a_pending_silence_expires_cleanly_and_the_file_stays_valid(client):
    start = datetime.now(UTC) + timedelta(hours=1)
    made = client.post("/api/v1/silences", json={
        "matchers": ["team=~db.*"], "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat()}).json()
    assert made["state"] == "pending"
    assert client.delete(f"/api/v1/silences/{made['id']}").json()["state"] == "expired"
    stored = json.loads(client.ctx.silences_file.read_text())
    assert stored[0]["starts_at"] < stored[0]["ends_at"]


@pytest.mark.parametrize(("body", "reason"), [
    ({"matchers": ["service"]}, "expected name=value"),
    ({"matchers": ["team=~("]}, "bad regex"),
    ({"matchers": ["a=b"], "starts_at": "2026-12-07T02:00:00Z",
      "ends_at": "2026-12-07T01:00:00Z"}, "must end after it starts"),
])
def test_bad_silences_answer_400_with_the_reason_and_write_nothing(client, body, reason):
    answer = client.post("/api/v1/silences", json=body)
    assert answer.status_code == 400
    assert reason in answer.json()["detail"]
    assert not client.ctx.silences_file.exists()


def test_scopes_read_lists_act_creates_and_expires(client):
    _, reader = create_token(client.ctx.engine, "viewer", "read")
    _, actor = create_token(client.ctx.engine, "oncall", "act")
    as_reader = {"Authorization": f"Bearer {reader}"}
    as_actor = {"Authorization": f"Bearer {actor}"}
    assert client.get("/api/v1/silences", headers=as_reader).status_code == 200
    assert client.post("/api/v1/silences", json={"matchers": ["a=b"]},
                       headers=as_reader).status_code == 403
    made = client.post("/api/v1/silences", json={"matchers": ["a=b"]}, headers=as_actor)
    assert made.status_code == 201 and made.json()["created_by"] == "oncall"
    sid = made.json()["id"]
    assert client.delete(f"/api/v1/silences/{sid}", headers=as_reader).status_code == 403
    assert client.delete(f"/api/v1/silences/{sid}", headers=as_actor).status_code == 200
    assert client.delete("/api/v1/silences/nope", headers=as_actor).status_code == 404
    assert client.get("/api/v1/silences", headers={"Authorization": ""}).status_code == 401


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(matchers=st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_any_matcher_text_is_stored_validly_or_refused_with_400(client, matchers):
    answer = client.post("/api/v1/silences", json={"matchers": matchers})
    assert answer.status_code in (201, 400, 422), answer.text
    # Whatever was answered, the file still loads in the flow (it never holds a bad entry).
    if client.ctx.silences_file.exists():
        load_silences(client.ctx.silences_file)  # raises on a bad entry
        assert client.get("/api/v1/silences").status_code == 200
