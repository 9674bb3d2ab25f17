"""Clean stops: SIGTERM/SIGINT end the inputs, so the flow drains and exits like a bounded run.

Raising from a signal handler would surface inside whichever Bytewax callback
happened to be running and abort the job; instead the handler sets a flag that
every source checks before its next batch. A second signal stops at once.
"""

import signal
import threading
from types import FrameType

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

REQUESTED = threading.Event()


def _request_stop(signum: int, frame: FrameType | None) -> None:
    if REQUESTED.is_set():
        raise KeyboardInterrupt
    REQUESTED.set()


def install_handlers() -> dict[int, object]:
    """Route SIGTERM and SIGINT to a clean stop; returns the previous handlers."""
    return {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}


def restore_handlers(previous: dict[int, object]) -> None:
    """Put back what :func:`install_handlers` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class _StoppablePartition(StatefulSourcePartition):
    def __init__(self, inner: StatefulSourcePartition) -> None:
        self.inner = inner

    def next_batch(self):
        if REQUESTED.is_set():
            # What a source consumed but still holds (a poll gathering) is drained too.
            drain = getattr(self.inner, "drain", None)
            held = drain() if drain is not None else []
            if held:
                return held
            raise StopIteration
        return self.inner.next_batch()

    def next_awake(self):
        return self.inner.next_awake()

    def snapshot(self):
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class StoppableSource(FixedPartitionedSource):
    """Wraps a source so a stop request ends its partitions after the current batch."""

    def __init__(self, inner: FixedPartitionedSource) -> None:
        self.inner = inner

    def list_parts(self) -> list[str]:
        """The wrapped source's partitions."""
        return self.inner.list_parts()

    def build_part(self, step_id: str, for_part: str, resume_state: object) -> _StoppablePartition:
        """The wrapped partition, checked for stop requests."""
        return _StoppablePartition(self.inner.build_part(step_id, for_part, resume_state))
