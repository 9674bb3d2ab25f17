"""The Kafka sink on its own: a batch returns only once the broker acknowledged all of it."""

import time
import uuid

import orjson
import pytest
from alertflow.dataflows import shutdown
from alertflow.dataflows.kafka_io import KafkaDecisionSink, OutputNotDelivered
from alertflow.operators.decisions import Decision
from alertflow.schemas.config import KafkaClient

from bench.broker import free_port

pytestmark = pytest.mark.integration


def _decisions(n: int) -> list[Decision]:
    return [Decision("dlq", f"k{i}", {"id": f"d{i}", "n": i}) for i in range(n)]


def _partition(bootstrap: str, prefix: str = "", **settings):
    sink = KafkaDecisionSink([bootstrap], KafkaClient(**settings), prefix)
    return sink.build("out", 0, 1)


def test_a_full_producer_queue_waits_for_room(broker):
    prefix = f"sink-{uuid.uuid4().hex[:8]}."
    broker.create_topics(prefix + "dlq")
    # Room for ten messages: produce() raises BufferError many times over in one batch.
    part = _partition(broker.bootstrap, prefix, config={"queue.buffering.max.messages": 10})
    part.write_batch([_decisions(300), _decisions(200)])
    part.close()
    ids = [orjson.loads(v)["id"] for v in broker.consume_all(prefix + "dlq", 500)]
    assert len(ids) == 500
    assert set(ids) == {f"d{i}" for i in range(300)}


def test_a_failed_delivery_report_fails_the_batch():
    # librdkafka gives up on the message (its report fails) long before the job's bound.
    part = _partition(
        f"127.0.0.1:{free_port()}", config={"message.timeout.ms": 300}, delivery_timeout_s=60
    )
    with pytest.raises(OutputNotDelivered, match="failed, the first to dlq: Local: Message timed"):
        part.write_batch([_decisions(3)])


def test_a_stop_request_ends_the_wait_after_the_grace():
    part = _partition(f"127.0.0.1:{free_port()}", delivery_timeout_s=60, stop_grace_s=0.5)
    shutdown.REQUESTED.set()
    try:
        with pytest.raises(OutputNotDelivered, match=r"3 message\(s\).*asked to stop"):
            part.write_batch([_decisions(3)])
    finally:
        shutdown.REQUESTED.clear()


def test_a_record_the_producer_refuses_fails_the_batch_with_its_reason(broker):
    part = _partition(broker.bootstrap, config={"message.max.bytes": 1000})
    big = Decision("dlq", "k", {"id": "big", "blob": "x" * 5000})
    with pytest.raises(OutputNotDelivered, match=r"dlq refused a record of \d+ bytes .*too large"):
        part.write_batch([[*_decisions(2), big]])


def _unacked_partition(bootstrap: str, prefix: str = "", **settings):
    """The sink as a job without recovery has it: batches are not waited for."""
    sink = KafkaDecisionSink([bootstrap], KafkaClient(**settings), prefix, ack_each_batch=False)
    return sink.build("out", 0, 1)


def test_without_recovery_the_end_of_the_job_waits_for_every_batch(broker):
    prefix = f"sink-{uuid.uuid4().hex[:8]}."
    broker.create_topics(prefix + "dlq")
    part = _unacked_partition(broker.bootstrap, prefix)
    part.write_batch([_decisions(300)])
    part.write_batch([_decisions(200)])
    part.close()
    ids = [orjson.loads(v)["id"] for v in broker.consume_all(prefix + "dlq", 500)]
    assert len(ids) == 500
    assert set(ids) == {f"d{i}" for i in range(300)}


def test_without_recovery_a_failed_delivery_fails_a_later_batch():
    part = _unacked_partition(f"127.0.0.1:{free_port()}", config={"message.timeout.ms": 300})
    part.write_batch([_decisions(3)])  # returns at once: nothing waits for the broker
    with pytest.raises(OutputNotDelivered, match="failed, the first to dlq: Local: Message timed"):
        for _ in range(200):  # librdkafka scans for timed-out messages about once a second
            time.sleep(0.05)
            part.write_batch([[]])


def test_without_recovery_unacknowledged_output_fails_the_end_of_the_job():
    part = _unacked_partition(f"127.0.0.1:{free_port()}", delivery_timeout_s=1)
    part.write_batch([_decisions(3)])
    expected = r"not acknowledged within kafka\.delivery_timeout_s \(1 s\)"
    with pytest.raises(OutputNotDelivered, match=expected):
        part.close()
