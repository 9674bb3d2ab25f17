"""Hypothesis against the intake endpoints of the real server: whatever comes in, the answer
is 202 exactly when the flow's own decoder takes the body, else 413/422 with a dead letter."""

import json

from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_FAST = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=10)
times = st.sampled_from(["2026-11-25T10:00:00Z", "0001-01-01T00:00:00Z", "yesterday", "", 5])
alert_entries = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved", "pending"]),
     "labels": st.dictionaries(st.sampled_from(["alertname", "service", "cluster"]),
                               st.text(max_size=5) | st.integers(), max_size=3),
     "startsAt": times, "fingerprint": st.text(max_size=6)},
    optional={"endsAt": times, "annotations": st.dictionaries(st.text(max_size=3), st.text(max_size=3))},
)
payloads = st.fixed_dictionaries(
    {"version": st.sampled_from(["4", "3", 4]), "status": st.sampled_from(["firing", "resolved", "x"]),
     "alerts": st.lists(alert_entries, max_size=3)},
    optional={"receiver": st.text(max_size=5), "groupLabels": st.dictionaries(st.text(max_size=3), st.text(max_size=3))},
)
bodies = (payloads.map(lambda p: json.dumps(p).encode())
          | json_values.map(lambda v: json.dumps(v).encode())
          | st.binary(max_size=64))


def _accepted_by_flow(stream: str, body: bytes) -> bool:
    try:
        decode_stream(stream, body, "")
    except (DecodeError, RecursionError):
        return False
    return True


def _check(api, path: str, stream: str, body: bytes) -> None:
    before = len(api.get("/api/v1/dead-letters", params={"limit": 500}).json())
    answer = api.post(path, content=body, headers={"Content-Type": "application/json"})
    api.queues[stream].drain(100)
    if _accepted_by_flow(stream, body):
        assert answer.status_code == 202, answer.text
        return
    assert answer.status_code in (413, 422), answer.text
    assert answer.json()["detail"]
    after = api.get("/api/v1/dead-letters", params={"limit": 500}).json()
    assert len(after) == before + 1
    assert after[0]["reason"] == answer.json()["detail"]


@_FAST
@given(body=bodies)
def test_alertmanager_receiver_agrees_with_the_kafka_decoder(api, body):
    _check(api, "/api/v1/alerts/alertmanager", "alerts", body)


@_FAST
@given(body=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=32),
       stream=st.sampled_from(["metrics", "logs"]))
def test_event_endpoint_agrees_with_the_flow_decoders(api, body, stream):
    _check(api, f"/api/v1/events/{stream}", stream, body)
