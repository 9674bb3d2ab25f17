"""How hard to push a receiver: backoff with jitter, a token bucket, a circuit breaker.

Time is passed in (seconds on any monotonic clock), so tests drive these with a fake one.

>>> import random
>>> backoff = Backoff(initial_s=1, max_s=60, rng=random.Random(7))
>>> [round(backoff.delay(n), 2) for n in range(1, 6)]  # full jitter under 1, 2, 4, 8, 16 s
[0.32, 0.3, 2.6, 0.58, 8.57]
>>> breaker = CircuitBreaker(failures_to_open=2, open_for_s=30)
>>> breaker.failed(0.0); breaker.failed(1.0); breaker.allows(10.0)
False
>>> breaker.allows(31.0)  # half-open: one probe goes through
True
"""

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(0, min(max, initial·2^(n-1)))."""

    initial_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_s, self.initial_s * 2 ** min(attempt - 1, 62))
        return self.rng.uniform(0, cap)


@dataclass(slots=True)
class TokenBucket:
    """At most ``burst`` at once, refilled at ``rate_per_s``."""

    rate_per_s: float
    burst: int
    tokens: float = -1.0
    at: float | None = None

    def take(self, now: float) -> float:
        """Take a token: 0 when one was free, else the seconds until one will be."""
        if self.at is None:
            self.tokens, self.at = float(self.burst), now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate_per_s)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s


@dataclass(slots=True)
class CircuitBreaker:
    """Stops sending to a receiver after consecutive failures; probes it after a pause."""

    failures_to_open: int
    open_for_s: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        """Whether a request may go now (closed, or open long enough for one probe)."""
        return self.opened_at is None or now - self.opened_at >= self.open_for_s

    def failed(self, now: float) -> None:
        """Count a failure; open (or re-open after a failed probe) at the threshold."""
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.opened_at = now

    def succeeded(self) -> None:
        """Close the breaker."""
        self.failures = 0
        self.opened_at = None

    @property
    def state(self) -> str:
        """``closed`` or ``open`` (an open breaker past its pause lets a probe through)."""
        return "closed" if self.opened_at is None else "open"
