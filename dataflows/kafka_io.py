"""Kafka source and sink that move a poll's worth of messages as one engine item.

Bytewax's own connectors (``bytewax.connectors.kafka``) wrap every message in a
frozen dataclass and pass it through the engine on its own; at tens of thousands
of samples a second that wrapping was 7% of the job's CPU (bench/throughput.py
profile). These hand the decoder the consumer's own message objects, a poll at a
time, and take lists of decisions at the sink. Partition discovery, offsets as
resume state and end-of-partition handling follow Bytewax's connector.
"""

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from alertflow.dataflows.job_metrics import PRODUCER_ERRORS
from alertflow.dataflows.kafka_log import client_log
from alertflow.dataflows.routing import remember_parts
from alertflow.dataflows.shutdown import REQUESTED
from alertflow.operators.decisions import Decision
from alertflow.operators.score_block import ScoreBlock
from alertflow.schemas.config import ConfigError, KafkaClient
from alertflow.schemas.errors import AlertflowError
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient


class InputUnavailable(AlertflowError):
    """An input topic's brokers did not answer."""


class Poll(list):
    """A poll's messages and when its first left the consumer: in-job latency counts the wait."""

    __slots__ = ("read_ns",)

    def __init__(self, messages: Iterable[Any], read_ns: int) -> None:
        super().__init__(messages)
        self.read_ns = read_ns


class _PollPartition(StatefulSourcePartition[list, int]):
    def __init__(self, config: dict[str, Any], topic: str, partition: int, offset: int,
                 batch_size: int, gather_s: float = 0.0) -> None:
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, offset)])
        self._part = TopicPartition(topic, partition)
        self._offset = offset
        self._committed = offset
        self._batch_size = batch_size
        self._gather_s = gather_s
        self._eof = False
        self._held: list = []  # consumed, not yet emitted: their offsets are not in snapshots
        self._held_since, self._held_ns = 0.0, 0  # monotonic and wall time of the first held
        self._full = False  # the last poll was full: catching up, so no waiting

    def next_batch(self) -> list[list]:
        if self._eof:
            raise StopIteration
        held = self._held
        messages = self._consumer.consume(self._batch_size - len(held), 0.001)
        if messages and not held:
            self._held_since, self._held_ns = time.monotonic(), time.time_ns()
        eof = False
        for message in messages:
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                eof = True  # emit what came before the end, then stop on the next call
                break
            held.append(message)
        if not held:
            self._eof = eof
            return []
        # A short poll waits up to gather_s for more (at a low rate per-poll costs are paid
        # for a few samples), except after a full one: a backlog's rest goes on at once.
        due = self._held_since + self._gather_s
        if not (eof or self._full) and len(held) < self._batch_size and time.monotonic() < due:
            return []
        self._eof = eof
        return [self._emit()]

    def drain(self) -> list[list]:
        """What is held, at once (the job is stopping)."""
        return [self._emit()] if self._held else []

    def _emit(self) -> Poll:
        poll = Poll(self._held, self._held_ns)
        self._held = []
        self._full = len(poll) >= self._batch_size
        for message in reversed(poll):
            if message.error() is None:
                self._offset = message.offset() + 1
                break
        return poll

    def next_awake(self) -> datetime | None:
        """While a short poll is held, the engine comes back when its wait ends."""
        if not self._held:
            return None
        wait = self._held_since + self._gather_s - time.monotonic()
        return datetime.now(tz=UTC) + timedelta(seconds=max(wait, 0.0))

    def snapshot(self) -> int:
        if self._offset != self._committed and self._offset >= 0:
            # Progress for lag monitors (KEDA, kafka-consumer-groups.sh) only: a resume
            # starts from the recovery store's offset, never from the group's.
            self._part.offset = self._offset
            self._consumer.commit(offsets=[self._part], asynchronous=True)
            self._committed = self._offset
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
        log_interval_s: float = 30.0,
        metadata_timeout_s: float = 10.0,
        gather_ms: float = 0.0,
    ) -> None:
        self.brokers = list(brokers)
        self.topic = topic
        self.config = config
        self.batch_size = batch_size
        self.tail = tail
        self.log_interval_s = log_interval_s
        self.metadata_timeout_s = metadata_timeout_s
        self.gather_ms = gather_ms

    def _client_config(self) -> dict[str, Any]:
        log = client_log(self.log_interval_s)
        return {
            "bootstrap.servers": ",".join(self.brokers),
            "logger": log,
            "error_cb": log.on_error,
            **self.config,
        }

    def list_parts(self) -> list[str]:
        """One part per partition of the topic, as ``"<partition>-<topic>"``."""
        admin_config = {k: v for k, v in self._client_config().items() if k != "fetch.wait.max.ms"}
        admin = AdminClient(admin_config)
        deadline = time.monotonic() + self.metadata_timeout_s
        while True:
            # Asked in one-second slices, so SIGTERM is seen while the brokers stay silent.
            try:
                metadata = admin.list_topics(self.topic, timeout=1)
                break
            except KafkaException as exc:
                admin.poll(0)  # serves the client's log lines: why the brokers stay silent
                if REQUESTED.is_set() or time.monotonic() >= deadline:
                    raise InputUnavailable(
                        f"input topic {self.topic!r} at {','.join(self.brokers)}: the brokers "
                        f"did not answer ({exc.args[0].str()})"
                    ) from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            reason = topic.error if topic is not None else "not found"
            raise ConfigError(f"input topic {self.topic!r}: {reason}")
        parts = [f"{p}-{self.topic}" for p in sorted(topic.partitions)]
        remember_parts(self.topic, parts)  # where each partition is read: dataflows.routing
        return parts

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
        return _PollPartition(
            config, topic, int(index), start, self.batch_size, self.gather_ms / 1000
        )


class OutputNotDelivered(AlertflowError):
    """The brokers did not acknowledge a batch of output; the job must stop, not skip it."""


# Waits on librdkafka are cut into slices this long, so a signal handler runs between them.
_SLICE_S = 0.2


class _Deadline:
    """When a batch's delivery must give up: its bound, or a grace after a stop request."""

    def __init__(self, timeout_s: float, grace_s: float) -> None:
        self._timeout_s = timeout_s
        self._grace_s = grace_s
        self._end = time.monotonic() + timeout_s
        self._stop_end: float | None = None

    def passed(self) -> str | None:
        """Why delivery must give up now, or None to keep waiting."""
        now = time.monotonic()
        if REQUESTED.is_set():
            if self._stop_end is None:
                self._stop_end = now + self._grace_s
            if now >= self._stop_end:
                return f"the job was asked to stop and {self._grace_s:g} s of grace passed"
        if now >= self._end:
            return f"not acknowledged within kafka.delivery_timeout_s ({self._timeout_s:g} s)"
        return None


class _ProducerPartition(StatelessSinkPartition[list]):
    """Produces a batch and, with ``ack_each_batch``, returns once the brokers acknowledged it.

    Returning is what lets Bytewax count the batch as written and snapshot past it,
    so a batch that cannot be delivered raises instead: the epoch fails and a restart
    from the recovery directory produces it again (at-least-once, deterministic ids).
    Without recovery there is no snapshot to protect: batches are not waited for (the
    wait was most of the job's added produce→consume latency, bench/throughput.py), a
    failed delivery raises at the next batch, and the end of the job waits for the rest.
    """

    def __init__(
        self,
        config: dict[str, Any],
        topic_prefix: str,
        settings: KafkaClient,
        ack_each_batch: bool = True,
    ) -> None:
        self._log = client_log(settings.log_interval_s)
        self._last_error: str | None = None
        self._producer = Producer(
            {
                **config,
                "logger": self._log,
                "error_cb": self._on_error,
                "on_delivery": self._on_delivery,
                # Success is what the queue emptying says; a Python call per message is not free.
                "delivery.report.only.error": True,
            }
        )
        self._brokers = config.get("bootstrap.servers", "?")
        self._prefix = topic_prefix
        self._topics: dict[str, str] = {}  # output stream -> its topic
        self._settings = settings
        self._ack_each_batch = ack_each_batch
        # librdkafka times a message out after delivery_timeout_s unless the config says other.
        self._timeout_is_ours = "message.timeout.ms" not in settings.client_config()
        self._failed: list[tuple[str, str]] = []  # (topic, error) of failed delivery reports

    def _on_error(self, error: KafkaError) -> None:
        self._last_error = error.str()
        PRODUCER_ERRORS.add("client")
        if error.fatal():  # the idempotent producer cannot go on: nothing more will deliver
            self._failed.append(("*", f"fatal producer error: {error.str()}"))
        self._log.on_error(error)

    def _on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            PRODUCER_ERRORS.add("delivery")
            reason = error.str()
            if error.code() == KafkaError._MSG_TIMED_OUT and self._timeout_is_ours:
                timeout_s = self._settings.delivery_timeout_s
                reason = f"not acknowledged within kafka.delivery_timeout_s ({timeout_s:g} s)"
            self._failed.append((message.topic(), reason))

    def write_batch(self, items: list[list[Decision]]) -> None:
        deadline = _Deadline(self._settings.delivery_timeout_s, self._settings.stop_grace_s)
        produce = self._producer.produce
        topics = self._topics
        for decisions in items:
            for decision in decisions:
                if type(decision) is ScoreBlock:
                    self._produce_block(decision, deadline)
                    continue
                topic = topics.get(decision.stream)
                if topic is None:
                    topic = topics[decision.stream] = self._prefix + decision.stream
                value, key = decision.encode(), decision.key.encode()
                trace = decision.traceparent
                # The decision span's W3C context, so the next consumer continues the story.
                headers = [("traceparent", trace)] if trace else None
                try:  # the usual case inline: a call less per message
                    produce(topic, value, key, headers=headers)
                except (BufferError, KafkaException):
                    self._produce(topic, value, key, deadline, trace)  # waits, or gives up
            self._producer.poll(0)
        if self._ack_each_batch:
            # Acknowledged before the engine moves on, so a snapshot never runs ahead of output.
            self._await_acks(deadline)
        else:
            self._raise_on_failure(len(self._producer))

    def _produce_block(self, block: ScoreBlock, deadline: _Deadline) -> None:
        """A block's records, one message each (no trace context: tracing expands blocks)."""
        topic = self._topics.get("scores")
        if topic is None:
            topic = self._topics["scores"] = self._prefix + "scores"
        produce = self._producer.produce
        for value, key in block.messages():
            try:
                produce(topic, value, key)
            except (BufferError, KafkaException):
                self._produce(topic, value, key, deadline, None)

    def _await_acks(self, deadline: _Deadline) -> None:
        while True:
            remaining = self._producer.flush(_SLICE_S)
            self._raise_on_failure(remaining)
            if remaining == 0:
                return
            why = deadline.passed()
            if why is not None:
                self._give_up(remaining, why)

    def _produce(
        self, topic: str, value: bytes, key: bytes, deadline: _Deadline, trace: str | None
    ) -> None:
        # The decision span's W3C context, so the next consumer continues the story.
        headers = [("traceparent", trace)] if trace else None
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers)
                return
            except BufferError:
                # librdkafka's queue is full: serving delivery reports makes room.
                self._producer.poll(_SLICE_S)
                self._raise_on_failure(len(self._producer))
                why = deadline.passed()
                if why is not None:
                    self._give_up(len(self._producer), why)
            except KafkaException as exc:  # refused before queueing: too large, unknown topic
                reason = f"{topic} refused a record of {len(value)} bytes ({exc.args[0].str()})"
                self._give_up(len(self._producer) + 1, reason)

    def _raise_on_failure(self, remaining: int) -> None:
        if self._failed:
            topic, error = self._failed[0]
            failed = len(self._failed)
            self._give_up(remaining + failed, f"{failed} failed, the first to {topic}: {error}")

    def _give_up(self, undelivered: int, why: str) -> None:
        PRODUCER_ERRORS.add("undelivered")
        # Dropped here, not left for the producer's destructor to wait on.
        self._producer.purge()
        self._producer.poll(0)
        last = f" (last broker error: {self._last_error})" if self._last_error else ""
        raise OutputNotDelivered(
            f"output to {self._brokers} not delivered: {undelivered} message(s) of this batch "
            f"still unacknowledged, {why}{last}; the batch is not counted as written (a "
            "restart with the same --recovery-dir sends it again)"
        )

    def close(self) -> None:
        if self._ack_each_batch:
            # write_batch leaves nothing queued; this only bounds the wait if it ever did.
            self._producer.flush(self._settings.stop_grace_s)
            return
        # The job ends only once its output is acknowledged, or with the batch's error.
        self._await_acks(_Deadline(self._settings.delivery_timeout_s, self._settings.stop_grace_s))


class KafkaDecisionSink(DynamicSink[list]):
    """Writes each decision to ``<prefix><stream>``, keyed for per-key ordering.

    ``ack_each_batch`` (needed with recovery) waits for every batch's acknowledgement.
    """

    def __init__(
        self,
        brokers: Iterable[str],
        settings: KafkaClient,
        topic_prefix: str,
        ack_each_batch: bool = True,
    ) -> None:
        self.config = {"bootstrap.servers": ",".join(brokers), **settings.producer_config()}
        self.settings = settings
        self.topic_prefix = topic_prefix
        self.ack_each_batch = ack_each_batch

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        """One producer per worker."""
        return _ProducerPartition(
            self.config, self.topic_prefix, self.settings, self.ack_each_batch
        )
