"""When a key's state may be dropped: a wall-time allowance renewed by every batch.

A key that stops reporting gets no events, so nothing of its own moves its event
time; the engine's wall-clock timer is what notices it has gone quiet.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime


class IdleTimer:
    """``idle_s`` of wall time after the last batch, the key's state may go.

    >>> s = 10**9
    >>> timer = IdleTimer(10, clock=lambda: 0)
    >>> timer.expired(), timer.touch(5 * s), timer.expired(14 * s), timer.expired(15 * s)
    (False, None, False, True)
    """

    def __init__(self, idle_s: float, clock: Callable[[], int] = time.time_ns) -> None:
        self.idle_ns = int(idle_s * 1e9)
        self.clock = clock
        self.last_ns = clock()

    def touch(self, wall_ns: int | None = None) -> None:
        """A batch came: the allowance starts again."""
        self.last_ns = self.clock() if wall_ns is None else wall_ns

    def due(self) -> datetime:
        """When the allowance runs out, for ``notify_at``."""
        return datetime.fromtimestamp((self.last_ns + self.idle_ns) / 1e9, tz=UTC)

    def expired(self, wall_ns: int | None = None) -> bool:
        """Whether the key has been quiet for the whole allowance."""
        now = self.clock() if wall_ns is None else wall_ns
        return now - self.last_ns >= self.idle_ns


def earliest(*times: datetime | None) -> datetime | None:
    """The first of the given times, ignoring those not set."""
    present = [t for t in times if t is not None]
    return min(present) if present else None
