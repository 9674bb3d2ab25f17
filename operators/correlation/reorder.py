"""Event-time order in front of the correlator: arrival order within the lateness bound is moot.

Alerts and anomalies reach a correlation domain by different paths (Alertmanager,
the scorer's shards, other processes), so their arrival order changes from run to
run. Grouping depends on order, so events are held until the domain's watermark
(newest event time seen minus the lateness bound, advanced by idle wall time)
passes them, then applied in event-time order. Whatever interleaving the inputs
arrive in within the bound, the incidents come out the same; an event later than
the bound is applied at once, in arrival order.
"""

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from alertflow.operators.eventclock import EventClock

T = TypeVar("T")


@dataclass(slots=True)
class EventTimeOrder(Generic[T]):
    """A heap of held events, released in ``(event time, key)`` order by the watermark.

    >>> order = EventTimeOrder(lateness_ns=10)
    >>> order.add(105, ("b",), "b", wall_ns=0), order.add(100, ("a",), "a", wall_ns=0)
    ([], [])
    >>> order.add(120, ("c",), "c", wall_ns=0)
    ['a', 'b']
    >>> order.release(wall_ns=0, everything=True)
    ['c']
    """

    lateness_ns: int
    clock: EventClock = field(init=False)
    held: list[tuple[int, tuple, int, T]] = field(default_factory=list)
    seq: int = 0

    def __post_init__(self) -> None:
        self.clock = EventClock(self.lateness_ns)

    def add(self, event_ns: int, key: tuple, item: T, wall_ns: int) -> list[T]:
        """Hold one event; return those now due, in event-time order.

        ``key`` orders events of the same event time (e.g. fingerprint, then firing
        before resolved), so ties do not fall back to arrival order.
        """
        self.clock.observe(event_ns, wall_ns)
        self.seq += 1
        if not self.held:
            # Nothing held (no lateness, events in order: mostly): it is due now or waits
            # alone, as through the heap, without a push and a pop per event (issue 10).
            watermark = self.clock.watermark(wall_ns)
            if watermark is not None and event_ns <= watermark:
                return [item]
        heapq.heappush(self.held, (event_ns, key, self.seq - 1, item))
        return self.release(wall_ns)

    def release(self, wall_ns: int, everything: bool = False) -> list[T]:
        """Events the watermark has passed (all of them at the end of the input)."""
        watermark = self.clock.watermark(wall_ns)
        out: list[T] = []
        while self.held and (
            everything or (watermark is not None and self.held[0][0] <= watermark)
        ):
            out.append(heapq.heappop(self.held)[3])
        return out

    def next_release_wall(self) -> int | None:
        """The wall time at which the oldest held event is due if nothing newer arrives."""
        return self.clock.wall_when(self.held[0][0]) if self.held else None

    def __len__(self) -> int:
        return len(self.held)
