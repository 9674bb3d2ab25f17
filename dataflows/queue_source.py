"""A Bytewax source reading an in-process :class:`IntakeQueue` (``alertflow serve``'s default).

``queue://STREAM`` inputs name a queue registered here before the flow is built.
Polls never block: an empty queue is polled again a few milliseconds later, so
the worker keeps serving the flow's other steps and timers meanwhile.
"""

from datetime import UTC, datetime, timedelta

from alertflow.operators.intake_queue import IntakeQueue, QueuedMessage
from alertflow.schemas.config import ConfigError
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

SCHEME = "queue://"
QUEUES: dict[str, IntakeQueue] = {}
_IDLE_POLL = timedelta(milliseconds=5)
_BATCH = 1000


def register(queue: IntakeQueue) -> str:
    """Make ``queue`` available to the flow; returns its input URI."""
    QUEUES[queue.stream] = queue
    return SCHEME + queue.stream


class _QueuePartition(StatefulSourcePartition[list[QueuedMessage], None]):
    def __init__(self, queue: IntakeQueue) -> None:
        self._queue = queue
        self._idle = False

    def next_batch(self) -> list[list[QueuedMessage]]:
        batch = self._queue.drain(_BATCH)
        self._idle = not batch
        return [batch] if batch else []

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + _IDLE_POLL if self._idle else None

    def snapshot(self) -> None:
        # In-memory: what was queued and not yet read is lost with the process (the
        # sender got 202 for it); Kafka mode is the durable one.
        return None


class QueueSource(FixedPartitionedSource[list[QueuedMessage], None]):
    """One partition: the queue of one input stream."""

    def __init__(self, uri: str) -> None:
        name = uri[len(SCHEME) :]
        if name not in QUEUES:
            raise ConfigError(f"input {uri!r}: no in-process queue {name!r} (alertflow serve)")
        self.queue = QUEUES[name]

    def list_parts(self) -> list[str]:
        """The queue's stream."""
        return [self.queue.stream]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _QueuePartition:
        """Read the queue."""
        return _QueuePartition(self.queue)
