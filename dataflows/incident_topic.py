"""Read the incidents topic (and its notifications topic) from the beginning to its end.

Versions are keyed by ``incident_id``, so on a compacted topic this reads
little more than the current view; on any topic it reads every version and
the caller keeps the last one per incident.
"""

import logging
import time
import uuid

from alertflow.dataflows.uris import KafkaLocation
from alertflow.schemas.config import ConfigError
from confluent_kafka import Consumer, KafkaException, TopicPartition

DEFAULT_TOPIC = "alertflow.incidents"
_QUIET = logging.getLogger("alertflow.incident_topic.librdkafka")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_TIMEOUT_S = 10.0  # for metadata and for each quiet wait; a live broker answers in milliseconds


def read_incidents_topic(location: KafkaLocation) -> tuple[list[bytes], list[bytes], str]:
    """Incident versions, notifications (empty when that topic is absent) and a source name."""
    topic = location.topic or DEFAULT_TOPIC
    consumer = Consumer(
        {
            "bootstrap.servers": ",".join(location.brokers),
            "group.id": f"alertflow-incidents-{uuid.uuid4().hex}",  # read-only: commits nothing
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",  # a compacted topic's first offset may be above 0
            # librdkafka logs each failed connection attempt (hundreds a minute); the one
            # error that matters is raised below as one line.
            "logger": _QUIET,
        }
    )
    try:
        versions = _read_to_end(consumer, location, topic, required=True)
        notes_topic = topic.removesuffix("incidents") + "notifications"
        notes = _read_to_end(consumer, location, notes_topic, required=False)
    finally:
        consumer.close()
    return versions, notes, f"kafka://{','.join(location.brokers)}/{topic}"


def read_topic(location: KafkaLocation) -> list[bytes]:
    """Every message of ``location``'s topic, from its first offset to its end."""
    consumer = Consumer(
        {
            "bootstrap.servers": ",".join(location.brokers),
            "group.id": f"alertflow-reader-{uuid.uuid4().hex}",  # read-only: commits nothing
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "logger": _QUIET,
        }
    )
    try:
        return _read_to_end(consumer, location, location.topic or "", required=True)
    finally:
        consumer.close()


def _read_to_end(
    consumer: Consumer, location: KafkaLocation, topic: str, required: bool
) -> list[bytes]:
    where = f"kafka://{','.join(location.brokers)}/{topic}"
    try:
        metadata = consumer.list_topics(topic, timeout=_TIMEOUT_S)
    except KafkaException as exc:
        raise ConfigError(f"{where}: broker not reachable ({exc.args[0].str()})") from None
    meta = metadata.topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        if not required:
            return []
        raise ConfigError(f"{where}: no such topic")
    ends: dict[int, int] = {}
    starts: dict[int, int] = {}
    for partition in sorted(meta.partitions):
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=_TIMEOUT_S
        )
        if high > low:
            starts[partition], ends[partition] = low, high
    consumer.assign([TopicPartition(topic, p, starts[p]) for p in ends])
    values: list[bytes] = []
    deadline = time.monotonic() + _TIMEOUT_S
    while ends:
        if time.monotonic() > deadline:
            raise ConfigError(f"{where}: timed out reading to the end of the topic")
        for message in consumer.consume(1000, 0.1):
            if message.error() is not None:
                continue
            deadline = time.monotonic() + _TIMEOUT_S
            values.append(message.value())
            if message.offset() + 1 >= ends.get(message.partition(), 0):
                ends.pop(message.partition(), None)
    consumer.unassign()
    return values
