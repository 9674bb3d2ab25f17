"""Kafka source and sink that move a poll's worth of messages as one engine item.

Bytewax's own connectors (``bytewax.connectors.kafka``) wrap every message in a
frozen dataclass and pass it through the engine on its own; at tens of thousands
of samples a second that wrapping was 7% of the job's CPU (bench/throughput.py
profile). These hand the decoder the consumer's own message objects, a poll at a
time, and take lists of decisions at the sink. Partition discovery, offsets as
resume state and end-of-partition handling follow Bytewax's connector.
"""

from collections.abc import Iterable
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from operators.decisions import Decision
from schemas.config import ConfigError


class _PollPartition(StatefulSourcePartition[list, int]):
    def __init__(
        self, config: dict[str, Any], topic: str, partition: int, offset: int, batch_size: int
    ) -> None:
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._offset = offset
        self._batch_size = batch_size
        self._eof = False

    def next_batch(self) -> list[list]:
        if self._eof:
            raise StopIteration
        messages = self._consumer.consume(self._batch_size, 0.001)
        batch = []
        for message in messages:
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                # Emit what came before the end, then stop on the next call.
                self._eof = True
                break
            batch.append(message)
            if error is None:
                self._offset = message.offset() + 1
        return [batch] if batch else []

    def snapshot(self) -> int:
        return self._offset

    def close(self) -> None:
        self._consumer.close()


class KafkaPollSource(FixedPartitionedSource[list, int]):
    """Every partition of one topic; each item is the list of messages of one poll.

    Items hold ``confluent_kafka.Message`` objects, which cannot be pickled: the step
    after this source must not be keyed (decoding is not), so they never leave the worker.
    """

    def __init__(
        self,
        brokers: Iterable[str],
        topic: str,
        config: dict[str, Any],
        batch_size: int = 1000,
        tail: bool = True,
    ) -> None:
        self.brokers = list(brokers)
        self.topic = topic
        self.config = config
        self.batch_size = batch_size
        self.tail = tail

    def _client_config(self) -> dict[str, Any]:
        return {"bootstrap.servers": ",".join(self.brokers), **self.config}

    def list_parts(self) -> list[str]:
        """One part per partition of the topic, as ``"<partition>-<topic>"``."""
        admin_config = {k: v for k, v in self._client_config().items() if k != "fetch.wait.max.ms"}
        metadata = AdminClient(admin_config).list_topics(self.topic, timeout=10)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            reason = topic.error if topic is not None else "not found"
            raise ConfigError(f"input topic {self.topic!r}: {reason}")
        return [f"{p}-{self.topic}" for p in sorted(topic.partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _PollPartition:
        """A consumer assigned to one partition, at the resume offset or the beginning."""
        index, _, topic = for_part.partition("-")
        config = {
            "group.id": "alertflow",  # offsets live in the recovery store, not the group
            "enable.auto.commit": False,
            "enable.partition.eof": not self.tail,
            **self._client_config(),
        }
        start = OFFSET_BEGINNING if resume_state is None else resume_state
        return _PollPartition(config, topic, int(index), start, self.batch_size)


class _ProducerPartition(StatelessSinkPartition[list]):
    def __init__(self, config: dict[str, Any], topic_prefix: str) -> None:
        self._producer = Producer(config)
        self._prefix = topic_prefix

    def write_batch(self, items: list[list[Decision]]) -> None:
        produce = self._producer.produce
        for decisions in items:
            for decision in decisions:
                produce(
                    self._prefix + decision.stream,
                    value=decision.encode(),
                    key=decision.key.encode(),
                )
            self._producer.poll(0)
        # Delivered before the engine moves on, so a snapshot never runs ahead of output.
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()


class KafkaDecisionSink(DynamicSink[list]):
    """Writes each decision to ``<prefix><stream>``, keyed for per-key ordering."""

    def __init__(self, brokers: Iterable[str], config: dict[str, Any], topic_prefix: str) -> None:
        self.config = {"bootstrap.servers": ",".join(brokers), **config}
        self.topic_prefix = topic_prefix

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        """One producer per worker."""
        return _ProducerPartition(self.config, self.topic_prefix)
