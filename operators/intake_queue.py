"""A bounded, thread-safe queue of raw messages: HTTP intake on one side, the flow on the other.

Messages answer the calls a Kafka message answers, so :class:`~.intake.Intake`
decodes them as any other; each gets an offset that is unique across restarts
(it starts at the wall clock in microseconds), so dead-letter ids do not collide.
"""

import itertools
import queue
import time

from alertflow.schemas.errors import AlertflowError


class IntakeFull(AlertflowError):
    """The queue is full: the flow is behind; the sender should retry later."""


class QueuedMessage:
    """One message taken from HTTP."""

    __slots__ = ("_offset", "_source", "_value")

    def __init__(self, source: str, offset: int, value: bytes) -> None:
        self._source = source
        self._offset = offset
        self._value = value

    def value(self) -> bytes:
        """The request body."""
        return self._value

    def topic(self) -> str:
        """Where it came from, e.g. ``http/alerts``."""
        return self._source

    def partition(self) -> None:
        """A queue has no partitions."""
        return None

    def offset(self) -> int:
        """Its position in the queue."""
        return self._offset

    def error(self) -> None:
        """Taking a message never fails."""
        return None


class IntakeQueue:
    """At most ``maxsize`` messages of one stream wait for the flow.

    >>> q = IntakeQueue("alerts", maxsize=1)
    >>> q.offer(b"{}")
    >>> try:
    ...     q.offer(b"{}")
    ... except IntakeFull as exc:
    ...     print(exc)
    alerts: 1 messages wait for the flow already
    >>> [m.value() for m in q.drain(10)]
    [b'{}']
    """

    def __init__(self, stream: str, maxsize: int = 10_000) -> None:
        self.stream = stream
        self.source = f"http/{stream}"
        self.maxsize = maxsize
        self._queue: queue.Queue[QueuedMessage] = queue.Queue(maxsize)
        self._offsets = itertools.count(time.time_ns() // 1000)

    def offer(self, raw: bytes) -> None:
        """Queue ``raw`` without waiting; :class:`IntakeFull` if the flow is behind."""
        try:
            self._queue.put_nowait(QueuedMessage(self.source, next(self._offsets), raw))
        except queue.Full:
            raise IntakeFull(
                f"{self.stream}: {self.maxsize} messages wait for the flow already"
            ) from None

    def drain(self, limit: int) -> list[QueuedMessage]:
        """Take up to ``limit`` waiting messages, without waiting for more."""
        taken: list[QueuedMessage] = []
        get = self._queue.get_nowait
        try:
            while len(taken) < limit:
                taken.append(get())
        except queue.Empty:
            pass
        return taken

    def __len__(self) -> int:
        return self._queue.qsize()
