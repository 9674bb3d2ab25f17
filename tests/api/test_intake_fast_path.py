"""The intake fast path (api/fast_intake.py) over real HTTP: it accepts what the route would,
and leaves every refusal to the route, so each is answered and dead-lettered once."""

import json

from tests.api.test_api_http import PAYLOAD, _token

RAW = json.dumps(PAYLOAD).encode()


def test_accepted_message_is_queued_once_whatever_the_scheme_case_or_chunking(api):
    lower = api.post("/api/v1/alerts/alertmanager", content=RAW,
                     headers={"Authorization": f"bearer {api.headers['Authorization'][7:]}"})
    assert lower.status_code == 202
    assert lower.json() == {"stream": "alerts", "messages": 1, "records": 1}
    assert lower.headers["content-type"] == "application/json"
    chunks = (RAW[i:i + 7] for i in range(0, len(RAW), 7))  # chunked: many ASGI messages
    assert api.post("/api/v1/alerts/alertmanager", content=chunks).status_code == 202
    assert [m.value() for m in api.queues["alerts"].drain(10)] == [RAW, RAW]


def test_refusals_come_from_the_route_with_its_reason_and_nothing_is_queued(api):
    basic = api.post("/api/v1/alerts/alertmanager", content=RAW,
                     headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401 and "missing token" in basic.json()["detail"]
    reader = {"Authorization": f"Bearer {_token(api, 'read')['token']}"}
    denied = api.post("/api/v1/alerts/alertmanager", content=RAW, headers=reader)
    assert denied.status_code == 403 and "needs 'act'" in denied.json()["detail"]
    absent = api.post("/api/v1/events/traces", content=b"{}")  # the fixture takes no traces
    assert absent.status_code == 404 and "takes no traces" in absent.json()["detail"]
    assert len(api.queues["alerts"]) == 0


def test_a_bad_body_is_dead_lettered_once(api):
    bad = api.post("/api/v1/alerts/alertmanager", content=b'{"version": "4"')
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]
    assert len(api.get("/api/v1/dead-letters").json()) == 1
    assert len(api.queues["alerts"]) == 0
