"""The Kafka source on its own: short polls gathered for ``gather_ms``, offsets only once emitted."""

import time
import uuid

import orjson
import pytest
from alertflow.dataflows import shutdown
from alertflow.dataflows.kafka_io import KafkaPollSource, Poll
from alertflow.dataflows.routing import LocalShards, worker_of
from alertflow.dataflows.shutdown import StoppableSource
from alertflow.operators.intake import Intake
from alertflow.operators.normalize import SeriesNormalizer
from confluent_kafka import OFFSET_BEGINNING, Producer

pytestmark = pytest.mark.integration


def _topic(broker, n: int) -> str:
    topic = f"src-{uuid.uuid4().hex[:8]}"
    broker.create_topics(topic)
    values = [
        orjson.dumps({"name": "m", "labels": {"i": str(i)}, "timestamp": "2026-01-01T00:00:00Z",
                      "value": str(i)})
        for i in range(n)
    ]
    broker.produce(topic, values)
    return topic


def _partition(broker, topic: str, gather_ms: float, batch_size: int = 1000, tail: bool = True):
    source = KafkaPollSource([broker.bootstrap], topic, {"fetch.wait.max.ms": 10},
                             batch_size=batch_size, tail=tail, gather_ms=gather_ms)
    return source.build_part("in", f"0-{topic}", None)


def _polls(part, until: int, limit_s: float = 30.0) -> tuple[list[Poll], list[int]]:
    """Call next_batch until ``until`` messages came out; the polls and the snapshots seen."""
    polls: list[Poll] = []
    snapshots = []
    deadline = time.monotonic() + limit_s
    while sum(map(len, polls)) < until and time.monotonic() < deadline:
        polls.extend(part.next_batch())
        snapshots.append(part.snapshot())
        time.sleep(0.005)
    return polls, snapshots


def test_a_short_poll_is_held_then_emitted_whole_with_its_first_read_time(broker):
    topic = _topic(broker, 5)
    part = _partition(broker, topic, gather_ms=1500)
    try:
        began = time.time_ns()
        polls, snapshots = _polls(part, 5)
        emitted = time.time_ns()
    finally:
        part.close()
    assert len(polls) == 1, "five messages, one gathered poll"
    assert [m.offset() for m in polls[0]] == [0, 1, 2, 3, 4]
    # Held messages are not progress yet: a snapshot before the emission resumes at 0.
    assert len(snapshots) > 1
    assert snapshots[:-1] == [OFFSET_BEGINNING] * (len(snapshots) - 1)
    assert snapshots[-1] == 5
    # Stamped when its first message left the consumer, well before it was emitted.
    assert began <= polls[0].read_ns <= emitted - 1_000_000_000


def test_a_full_batch_and_the_short_one_after_it_are_emitted_without_waiting(broker):
    topic = _topic(broker, 14)
    part = _partition(broker, topic, gather_ms=60_000, batch_size=4)
    try:
        polls, _ = _polls(part, 14)
    finally:
        part.close()
    # A backlog: after a full poll the short rest goes on at once, not after the minute.
    assert all(len(p) <= 4 for p in polls) and len(polls[0]) == 4
    assert [m.offset() for p in polls for m in p] == list(range(14))


def test_the_end_of_a_partition_emits_what_is_held(broker):
    topic = _topic(broker, 3)
    part = _partition(broker, topic, gather_ms=60_000, tail=False)
    polls: list = []
    try:
        with pytest.raises(StopIteration):
            for _ in range(10_000):  # the end comes long before the minute's wait
                polls.extend(part.next_batch())
                time.sleep(0.005)
        assert part.snapshot() == 3
    finally:
        part.close()
    assert [m.offset() for p in polls for m in p] == [0, 1, 2]


def test_without_gathering_a_poll_is_emitted_as_consumed(broker):
    topic = _topic(broker, 3)
    part = _partition(broker, topic, gather_ms=0)
    try:
        polls, snapshots = _polls(part, 3)
    finally:
        part.close()
    assert part.next_awake() is None
    assert sum(map(len, polls)) == 3
    assert snapshots[-1] == 3


def test_decoded_samples_carry_the_poll_read_time(broker):
    topic = _topic(broker, 3)
    part = _partition(broker, topic, gather_ms=0)
    try:
        polls, _ = _polls(part, 3)
    finally:
        part.close()
    stamped = [Poll(p, 12345) for p in polls]
    records = Intake("metrics").decode_batch(stamped)[0]
    assert [r.read_ns for r in records] == [12345] * 3
    # A plain list (the file source's) is stamped when decoded.
    before = time.time_ns()
    records = Intake("metrics").decode_batch([list(p) for p in polls])[0]
    assert all(r.read_ns >= before for r in records)


def test_a_stop_request_drains_a_held_poll(broker):
    topic = _topic(broker, 4)
    part = StoppableSource(KafkaPollSource([broker.bootstrap], topic, {}, gather_ms=60_000))
    inner = part.build_part("in", f"0-{topic}", None)
    try:
        deadline = time.monotonic() + 30
        while len(inner.inner._held) < 4 and time.monotonic() < deadline:
            assert inner.next_batch() == []  # held for the minute's wait
            time.sleep(0.005)
        shutdown.REQUESTED.set()
        try:
            polls = inner.next_batch()
            with pytest.raises(StopIteration):
                inner.next_batch()
        finally:
            shutdown.REQUESTED.clear()
        assert inner.snapshot() == 4
    finally:
        inner.close()
    assert [m.offset() for p in polls for m in p] == [0, 1, 2, 3]


def test_decoded_samples_are_keyed_by_the_partition_they_were_read_from(broker):
    topic = f"src-{uuid.uuid4().hex[:8]}"
    broker.create_topics(topic, partitions=3)
    source = KafkaPollSource([broker.bootstrap], topic, {"fetch.wait.max.ms": 10})
    parts = source.list_parts()  # as each process does before its first poll
    value = orjson.dumps({"name": "m", "labels": {"i": "1"}, "timestamp": "2026-01-01T00:00:00Z",
                          "value": "1"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, value=value, partition=2)
    assert producer.flush(30) == 0
    part = source.build_part("in", parts[2], None)
    try:
        polls, _ = _polls(part, 1)
    finally:
        part.close()
    (sample,) = Intake("metrics").decode_batch(polls)[0]
    ((key, _),) = SeriesNormalizer(shards=4, part_keys=LocalShards(4, frozenset({topic}))).shard_batches([sample])
    assert key.startswith(f"{topic}/2.s")  # not "s<n>": its partition's own shard
    assert worker_of(key, 3) == 2  # the worker that reads the partition (the third of three)
