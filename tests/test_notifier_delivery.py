"""Delivery to real HTTP receivers on loopback that fail, stall and refuse on purpose."""

import random
import time
from pathlib import Path

import orjson
import pytest
from alertflow.dataflows.notifier import Deliverer, Receiver
from alertflow.dataflows.notify_outbox import Delivery, Outbox
from alertflow.operators.delivery.payloads import render
from alertflow.operators.delivery.signing import verify
from alertflow.schemas.config_notify import ReceiverConfig, RetryConfig

from tests.http_receiver import Receiver as HttpReceiver
from tests.http_receiver import always, free_port


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def note(i: int, kind: str = "incident_opened") -> dict:
    return {"id": f"n{i}", "kind": kind, "incident_id": f"inc{i % 3}", "incident_version": i,
            "ts": "2026-12-07T01:00:00Z", "severity": "critical", "title": f"Opened {i}",
            "text": "cpu on api", "services": ["api"], "root_cause": "api", "domain": "prod",
            "labels": {}, "receivers": ["hook"], "suppressed_by": None}


def setup(tmp_path: Path, url: str, clock: FakeClock, rtype: str = "webhook",
          **receiver: object) -> tuple[Outbox, Deliverer]:
    config = ReceiverConfig(name="hook", type=rtype, url=url, **receiver)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    rx = Receiver.from_config(config)
    rx.signing_key, rx.token = b"k3y", "tok"  # as if read from the environment
    deliverer = Deliverer(outbox, {"hook": rx}, RetryConfig(initial_s=1, max_s=60,
                          give_up_after_s=3600), clock=clock, rng=random.Random(1))
    return outbox, deliverer


def enqueue(outbox: Outbox, notes: list[dict], url: str, clock: FakeClock,
            rtype: str = "webhook") -> None:
    requests = [(n, render(rtype, url, n, "tok")) for n in notes]
    outbox.add(Delivery(f"{n['id']}/hook", n["id"], "hook", r.url, r.body, dict(r.headers),
                        clock(), 0) for n, r in requests)


def drive(deliverer: Deliverer, clock: FakeClock, seconds: float, step: float = 1.0) -> None:
    """Run delivery rounds while fake time passes (real requests, fake waiting)."""
    end = clock.now + seconds
    while clock.now < end:
        deliverer.run_once()
        clock.now += step


def test_a_healthy_receiver_gets_each_notification_once_signed_with_its_key(tmp_path):
    server = HttpReceiver().start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock)
    enqueue(outbox, [note(i) for i in range(5)], server.url, clock)
    enqueue(outbox, [note(i) for i in range(5)], server.url, clock)  # a replay adds nothing
    drive(deliverer, clock, 3)
    server.stop()
    assert [orjson.loads(r.body)["id"] for r in server.received] == [f"n{i}" for i in range(5)]
    for r in server.received:
        assert r.headers["Idempotency-Key"] == orjson.loads(r.body)["id"]
        assert verify(b"k3y", r.body, r.headers["X-Alertflow-Signature"], now_s=int(clock()))
        assert not verify(b"other", r.body, r.headers["X-Alertflow-Signature"], int(clock()))
    assert outbox.pending() == 0


def test_5xx_is_retried_with_the_same_idempotency_key_until_it_succeeds(tmp_path):
    server = HttpReceiver(script=lambda n, p: ((503 if n <= 3 else 200), 0.0, {})).start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock)
    enqueue(outbox, [note(1)], server.url, clock)
    drive(deliverer, clock, 120)
    server.stop()
    assert [r.status for r in server.received] == [503, 503, 503, 200]
    assert {r.headers["Idempotency-Key"] for r in server.received} == {"n1"}
    assert outbox.pending() == 0 and not outbox.dead_letters()


def test_retry_after_on_429_is_honoured(tmp_path):
    server = HttpReceiver(script=lambda n, p: ((429, 0.0, {"Retry-After": "30"}) if n == 1
                                               else (200, 0.0, {}))).start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock)
    enqueue(outbox, [note(1)], server.url, clock)
    drive(deliverer, clock, 29)
    assert len(server.received) == 1  # still waiting, as the receiver asked
    drive(deliverer, clock, 5)
    server.stop()
    assert [r.status for r in server.received] == [429, 200]


def test_a_stalled_receiver_times_out_and_is_retried(tmp_path):
    server = HttpReceiver(script=lambda n, p: (200, 1.5 if n == 1 else 0.0, {})).start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock, timeout_s=0.3)
    enqueue(outbox, [note(1)], server.url, clock)
    drive(deliverer, clock, 60)
    server.stop()
    assert len(server.received) == 2 and outbox.pending() == 0
    assert {r.headers["Idempotency-Key"] for r in server.received} == {"n1"}


def test_a_4xx_rejection_is_dead_lettered_with_the_reason_not_retried(tmp_path):
    server = HttpReceiver(script=always(400)).start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock)
    enqueue(outbox, [note(1)], server.url, clock)
    drive(deliverer, clock, 100)
    server.stop()
    assert len(server.received) == 1
    (dead,) = outbox.dead_letters()
    assert dead["notification_id"] == "n1" and "HTTP 400" in dead["error"]


def test_a_ten_minute_outage_loses_nothing_and_the_breaker_stops_hammering(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, url, clock, failures_to_open=3, open_for_s=30)
    notes = [note(i) for i in range(40)]
    enqueue(outbox, notes, url, clock)
    drive(deliverer, clock, 600, step=2.0)  # nothing listens for ten minutes
    assert outbox.counts() == {("hook", "pending"): 40}
    server = HttpReceiver(port=port).start()
    drive(deliverer, clock, 400, step=2.0)
    server.stop()
    got = sorted(orjson.loads(r.body)["id"] for r in server.ok())
    assert got == sorted(n["id"] for n in notes)
    assert outbox.counts() == {("hook", "delivered"): 40}


def test_a_breaker_lets_one_probe_through_while_open(tmp_path):
    server = HttpReceiver(script=always(503)).start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock, failures_to_open=2, open_for_s=60,
                              burst=100, rate_per_minute=6000)
    enqueue(outbox, [note(i) for i in range(20)], server.url, clock)
    drive(deliverer, clock, 600, step=1.0)
    server.stop()
    # Closed: 2 failures open it; then about one probe a minute, not 20 requests a round.
    assert len(server.received) <= 2 + 600 / 60 + 1


def test_rate_limit_spreads_a_burst(tmp_path):
    server = HttpReceiver().start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock, rate_per_minute=60, burst=5)
    enqueue(outbox, [note(i) for i in range(20)], server.url, clock)
    drive(deliverer, clock, 1)
    assert len(server.received) == 5
    drive(deliverer, clock, 20)
    server.stop()
    assert len(server.received) == 20


def test_give_up_after_the_bound_dead_letters(tmp_path):
    server = HttpReceiver(script=always(500)).start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock)
    enqueue(outbox, [note(1)], server.url, clock)
    drive(deliverer, clock, 3700, step=10)
    server.stop()
    (dead,) = outbox.dead_letters()
    assert dead["error"].startswith("gave up after")
    assert outbox.revive_dead(clock()) == 1 and outbox.pending() == 1


def test_the_outbox_survives_a_restart(tmp_path):
    server = HttpReceiver().start()
    clock = FakeClock()
    outbox, _ = setup(tmp_path, server.url, clock)
    enqueue(outbox, [note(1), note(2)], server.url, clock)
    outbox.close()  # the process dies before delivering anything
    outbox, deliverer = setup(tmp_path, server.url, clock)
    assert outbox.pending() == 2
    drive(deliverer, clock, 2)
    server.stop()
    assert [orjson.loads(r.body)["id"] for r in server.ok()] == ["n1", "n2"]


@pytest.mark.parametrize(("rtype", "kind", "path", "check"), [
    ("slack", "incident_opened", "/hook", lambda b: b["blocks"][0]["type"] == "header"),
    ("pagerduty", "incident_opened", "/hook",
     lambda b: b["event_action"] == "trigger" and b["dedup_key"] == "inc1"
     and b["routing_key"] == "tok" and b["payload"]["severity"] == "critical"),
    ("pagerduty", "incident_resolved", "/hook",
     lambda b: b["event_action"] == "resolve" and "payload" not in b),
    ("opsgenie", "incident_opened", "/hook",
     lambda b: b["alias"] == "inc1" and b["priority"] == "P1"),
    ("opsgenie", "incident_resolved", "/hook/inc1/close", lambda b: "note" in b),
])
def test_each_receiver_type_gets_its_own_payload(tmp_path, rtype, kind, path, check):
    server = HttpReceiver().start()
    clock = FakeClock()
    outbox, deliverer = setup(tmp_path, server.url, clock, rtype=rtype,
                              token={"env": "HOME"})
    enqueue(outbox, [note(1, kind)], server.url, clock, rtype=rtype)
    drive(deliverer, clock, 2)
    server.stop()
    (got,) = server.received
    assert got.path.split("?")[0] == path
    assert check(orjson.loads(got.body))
    if rtype == "opsgenie":
        assert got.headers["Authorization"] == "GenieKey tok"


def test_the_background_thread_delivers_and_stop_drains(tmp_path):
    server = HttpReceiver().start()
    outbox = Outbox(tmp_path / "o.sqlite")
    config = ReceiverConfig(name="hook", url=server.url)
    deliverer = Deliverer(outbox, {"hook": Receiver.from_config(config)}, RetryConfig())
    deliverer.start()
    clock = time.time
    enqueue(outbox, [note(1)], server.url, clock)  # type: ignore[arg-type]
    deliverer.wake()
    deadline = time.monotonic() + 10
    while not server.ok() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert deliverer.stop(drain_s=5) == 0
    server.stop()
    assert len(server.ok()) == 1
