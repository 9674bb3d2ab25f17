"""An event-time watermark that keeps moving while the input is idle."""

from dataclasses import dataclass


@dataclass(slots=True)
class EventClock:
    """Watermark = newest event time seen - lateness, advanced by wall time since then.

    The wall-time term lets sessions close when a live stream goes quiet; when
    a file is replayed fast it adds only the replay's few seconds. Wall time is
    always passed in, never read here.

    >>> clock = EventClock(lateness_ns=10)
    >>> clock.observe(100, wall_ns=5)
    >>> clock.watermark(wall_ns=5), clock.watermark(wall_ns=25)
    (90, 110)
    """

    lateness_ns: int
    max_event_ns: int | None = None
    wall_at_max_ns: int = 0

    def observe(self, event_ns: int, wall_ns: int) -> None:
        """Note an event; only a newer event time moves the clock."""
        if self.max_event_ns is None or event_ns > self.max_event_ns:
            self.max_event_ns = event_ns
            self.wall_at_max_ns = wall_ns

    def watermark(self, wall_ns: int) -> int | None:
        """Event time up to which everything is assumed to have arrived."""
        if self.max_event_ns is None:
            return None
        idle = max(0, wall_ns - self.wall_at_max_ns)
        return self.max_event_ns - self.lateness_ns + idle

    def wall_when(self, event_ns: int) -> int | None:
        """The wall time at which the watermark will reach ``event_ns`` if nothing newer comes."""
        if self.max_event_ns is None:
            return None
        return self.wall_at_max_ns + max(0, event_ns - (self.max_event_ns - self.lateness_ns))
