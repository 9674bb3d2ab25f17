"""Where HTTP intake hands messages to the flow: an in-process queue or a Kafka topic.

Both are bounded: when full, ``offer`` raises :class:`IntakeFull` and the API answers
503 with Retry-After instead of buffering without limit.
"""

from typing import Any, Protocol

from alertflow.operators.intake_queue import IntakeFull, IntakeQueue


class IntakeChannel(Protocol):
    """Takes one raw message of an input stream, or raises :class:`IntakeFull`."""

    def streams(self) -> tuple[str, ...]:
        """The input streams this channel feeds."""
        ...

    def offer(self, stream: str, raw: bytes) -> None:
        """Queue ``raw`` for the flow without waiting."""
        ...


class QueueChannel:
    """The embedded default: one bounded in-process queue per stream, read by the flow."""

    def __init__(self, queues: dict[str, IntakeQueue]) -> None:
        self.queues = queues

    def streams(self) -> tuple[str, ...]:
        """The streams that have a queue."""
        return tuple(self.queues)

    def offer(self, stream: str, raw: bytes) -> None:
        """Put ``raw`` on the stream's queue; :class:`IntakeFull` when it is full."""
        self.queues[stream].offer(raw)


class KafkaChannel:
    """Produces to the topics the flow reads (``--input STREAM=kafka://...``)."""

    def __init__(self, producer: Any, topics: dict[str, str]) -> None:
        self.producer = producer
        self.topics = topics

    def streams(self) -> tuple[str, ...]:
        """The streams with a Kafka input topic."""
        return tuple(self.topics)

    def offer(self, stream: str, raw: bytes) -> None:
        """Hand ``raw`` to the producer; its bounded local queue full is :class:`IntakeFull`."""
        self.producer.poll(0)  # serve delivery callbacks, freeing queue space
        try:
            self.producer.produce(self.topics[stream], raw)
        except BufferError:
            raise IntakeFull(f"{stream}: the Kafka producer's queue is full") from None


__all__ = ["IntakeChannel", "IntakeFull", "KafkaChannel", "QueueChannel"]
