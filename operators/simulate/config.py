"""Settings of one simulation run and the helpers every part of the simulator shares.

Randomness is split into named streams (``rng("traces")``, ``np_rng("metrics")``)
derived from the one seed, so changing how traces are drawn never shifts the
metrics of the same seed.
"""

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from alertflow.schemas.errors import AlertflowError
from alertflow.schemas.timefmt import format_ns

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
# What Alertmanager writes as the end of an alert that is still firing.
ZERO_TIME = "0001-01-01T00:00:00Z"
MIN_DURATION_S = 20 * 60


class SimulationError(AlertflowError, ValueError):
    """The simulator was asked for an estate or a time span it cannot produce."""


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """The arguments of :func:`operators.simulate.simulate`, validated."""

    seed: int
    services: int
    duration_s: int
    step_s: int
    incidents: int
    noise_alerts: int
    clusters: int
    start_ns: int

    def __post_init__(self) -> None:
        if self.services < 3:
            raise SimulationError(f"services must be at least 3, got {self.services}")
        if self.duration_s < MIN_DURATION_S:
            raise SimulationError(
                f"duration_s must be at least {MIN_DURATION_S}, got {self.duration_s}"
            )
        if not 1 <= self.step_s <= self.duration_s // 20:
            raise SimulationError(f"step_s must be between 1 and duration_s/20, got {self.step_s}")
        if self.incidents < 0 or self.noise_alerts < 0:
            raise SimulationError("incidents and noise_alerts must not be negative")
        if self.clusters < 1:
            raise SimulationError(f"clusters must be at least 1, got {self.clusters}")
        if self.start_ns < 0:
            raise SimulationError(f"start_ns must be an epoch time, got {self.start_ns}")

    @property
    def steps(self) -> int:
        """How many scrapes fit in the run."""
        return self.duration_s // self.step_s

    @property
    def step_ns(self) -> int:
        """The scrape interval in nanoseconds."""
        return self.step_s * NS_PER_S

    @property
    def end_ns(self) -> int:
        """The end of the simulated window; nothing is sent after it."""
        return self.start_ns + self.duration_s * NS_PER_S

    def rng(self, part: str) -> random.Random:
        """A stdlib random stream for one part of the simulation (str seeds hash stably)."""
        return random.Random(f"{self.seed}:{part}")

    def np_rng(self, part: str) -> np.random.Generator:
        """A numpy random stream for one part of the simulation."""
        return np.random.default_rng([self.seed & 0xFFFF_FFFF_FFFF_FFFF, zlib.crc32(part.encode())])


def rfc3339_s(ts_ns: int) -> str:
    """Format whole seconds the way prometheus-kafka-adapter does (Go's ``time.RFC3339``).

    >>> rfc3339_s(1_795_600_800 * NS_PER_S + 999)
    '2026-11-25T10:00:00Z'
    """
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_ms(ts_ns: int) -> str:
    """Format with millisecond precision, as Alertmanager and log shippers do."""
    return format_ns(ts_ns)


def hex_id(rng: random.Random, bits: int) -> str:
    """A random non-zero trace or span id as lowercase hex (zero ids are invalid in OTLP)."""
    return f"{rng.getrandbits(bits) or 1:0{bits // 4}x}"
