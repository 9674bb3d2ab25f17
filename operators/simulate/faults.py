"""Injected incidents: when, where, which fault, and how it spreads to callers.

A fault starts on one root service and reaches the services that call it,
hop by hop, each hop a little later and weaker than the one below it, the way
timeouts and 5xx responses climb a call graph. Incidents that overlap in time
in one cluster are placed in disjoint parts of the graph, so the ground truth
stays unambiguous, unless ``overlapping`` asks for faults that start during
another, next to it in the graph (a dependency or a caller of a service it affects).
"""

import random
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from alertflow.operators.simulate.config import NS_PER_S, SimulationConfig
from alertflow.operators.simulate.topology import Tier, Topology

FaultType = Literal["latency", "error_spike", "cpu_saturation", "memory_leak", "dependency_down"]
FAULTS: tuple[FaultType, ...] = (
    "latency", "error_spike", "cpu_saturation", "memory_leak", "dependency_down",
)  # fmt: skip
_ROOT_TIERS: dict[FaultType, tuple[Tier, ...]] = {
    "latency": ("backend", "datastore"),
    "error_spike": ("backend", "frontend"),
    "cpu_saturation": ("backend",),
    "memory_leak": ("backend",),
    "dependency_down": ("datastore", "backend"),
}
# Length range in minutes; a leak needs time to fill the container.
_LENGTH_MIN: dict[FaultType, tuple[float, float]] = {
    "latency": (10, 30),
    "error_spike": (8, 25),
    "cpu_saturation": (12, 35),
    "memory_leak": (35, 70),
    "dependency_down": (8, 20),
}
_MAX_SHARE = 0.35  # the longest share of the run one incident may take
_RAMP_NS = 60 * NS_PER_S
_MIN_STRENGTH = 0.15
_SPACING_NS = 3 * 60 * NS_PER_S
_COLD_NS = (2 * 60 * NS_PER_S, 10 * 60 * NS_PER_S)  # a cold start's first fault begins within


@dataclass(frozen=True, slots=True)
class Hop:
    """One affected service: how far from the root, through whom, how late and how strong."""

    service: str
    hops: int
    via: str  # the downstream service it sees failing; "" for the root
    delay_ns: int
    strength: float  # share of the root's effect that reaches it, in (0, 1]


@dataclass(frozen=True, slots=True)
class Incident:
    """A fault on ``root`` in ``cluster`` from ``start_ns`` to ``end_ns`` and its reach."""

    id: str
    root: str
    fault: FaultType
    cluster: str
    start_ns: int
    end_ns: int
    hops: tuple[Hop, ...]

    @property
    def affected(self) -> list[str]:
        """The root first, then its callers in the order the fault reached them."""
        return [hop.service for hop in self.hops]

    def envelope(self, hop: Hop, times_ns: np.ndarray) -> np.ndarray:
        """How much of the fault ``hop`` feels at each time, in [0, 1].

        A leak grows linearly until the container is restarted at the end;
        other faults ramp in and out over a minute.
        """
        onset = self.start_ns + hop.delay_ns
        offset = self.end_ns + hop.delay_ns
        since = (times_ns - onset).astype(np.float64)
        if self.fault == "memory_leak":
            grown = np.clip(since / (offset - onset), 0.0, 1.0)
            return np.where(times_ns < offset, grown, 0.0)
        rise = np.clip(since / _RAMP_NS, 0.0, 1.0)
        fall = np.clip((offset + _RAMP_NS - times_ns).astype(np.float64) / _RAMP_NS, 0.0, 1.0)
        return rise * fall

    def active_until_ns(self) -> int:
        """When the last affected service has recovered."""
        return self.end_ns + max(hop.delay_ns for hop in self.hops) + _RAMP_NS


def propagate(rng: random.Random, topo: Topology, root: str) -> tuple[Hop, ...]:
    """Walk callers breadth first, weakening the effect per hop until it fades out."""
    attenuation = rng.uniform(0.5, 0.85)
    hops = [Hop(root, 0, "", 0, 1.0)]
    reached = {root}
    frontier = hops[:]
    while frontier:
        next_frontier = []
        for hop in frontier:
            for caller in topo.callers[hop.service]:
                strength = hop.strength * attenuation * rng.uniform(0.7, 1.2)
                if caller in reached or strength < _MIN_STRENGTH:
                    continue
                reached.add(caller)
                delay = hop.delay_ns + rng.randint(15, 90) * NS_PER_S
                caller_hop = Hop(caller, hop.hops + 1, hop.service, delay, min(strength, 1.0))
                hops.append(caller_hop)
                next_frontier.append(caller_hop)
        frontier = next_frontier
    return tuple(hops)


def _conflicts(candidate: Incident, placed: list[Incident], strict: bool) -> bool:
    """Whether ``candidate`` shares a service with an incident it overlaps in one cluster.

    While ``strict``, reusing another incident's root in the same cluster also
    counts, so a run shows several root causes rather than one twice.
    """
    for other in placed:
        if other.cluster != candidate.cluster:
            continue
        if strict and other.root == candidate.root:
            return True
        apart = (
            candidate.start_ns > other.active_until_ns() + _SPACING_NS
            or other.start_ns > candidate.active_until_ns() + _SPACING_NS
        )
        if not apart and set(candidate.affected) & set(other.affected):
            return True
    return False


def _draw(
    rng: random.Random,
    cfg: SimulationConfig,
    topo: Topology,
    fault: FaultType,
    shrink: float,
    cold: bool = False,
) -> Incident:
    low, high = _LENGTH_MIN[fault]
    length_s = min(rng.uniform(low, high) * 60, cfg.duration_s * _MAX_SHARE)
    floor_s = low * 60 if fault == "memory_leak" else 6 * 60
    length_ns = int(max(length_s * shrink, min(floor_s, length_s))) * NS_PER_S
    first = cfg.start_ns + int(cfg.duration_s * 0.08) * NS_PER_S
    last = cfg.start_ns + int(cfg.duration_s * 0.88) * NS_PER_S - length_ns
    if cold:
        # Before any detector has a baseline: the estate's first minutes.
        first, last = cfg.start_ns + _COLD_NS[0], cfg.start_ns + _COLD_NS[1]
    start_ns = first + rng.randrange(max(last - first, NS_PER_S) // NS_PER_S) * NS_PER_S
    root = rng.choice(topo.in_tier(*_ROOT_TIERS[fault]) or list(topo.services)).name
    return Incident(
        id="",
        root=root,
        fault=fault,
        cluster=rng.choice(topo.clusters),
        start_ns=start_ns,
        end_ns=start_ns + length_ns,
        hops=propagate(rng, topo, root),
    )


def _fits(fault: FaultType, cfg: SimulationConfig) -> bool:
    """Whether the run is long enough for the fault to show before it ends.

    A leak only crosses its alert line in its last fifth, so a leak squeezed
    into a short run would end before any alert could fire.
    """
    return _LENGTH_MIN[fault][0] * 60 <= cfg.duration_s * _MAX_SHARE


def _next_to(rng: random.Random, topo: Topology, first: Incident, fault: FaultType) -> Incident:
    """A fault that starts 3 to 12 minutes into ``first``, beside what ``first`` affects."""
    affected = set(first.affected)
    beside = sorted({n for s in affected for n in (*topo.callees[s], *topo.callers[s])})
    root = rng.choice([s for s in beside if s not in affected] or beside or [first.root])
    start_ns = first.start_ns + rng.randint(3, 12) * 60 * NS_PER_S
    low, high = _LENGTH_MIN[fault]
    length_ns = int(rng.uniform(low, high) * 60) * NS_PER_S
    return Incident("", root, fault, first.cluster, start_ns, start_ns + length_ns,
                    propagate(rng, topo, root))  # fmt: skip


def schedule_incidents(
    cfg: SimulationConfig, topo: Topology, overlapping: bool = False, cold_start: bool = False
) -> list[Incident]:
    """Draw ``cfg.incidents`` incidents, every fault type before any repeats, ordered by start.

    With ``overlapping``, every second one starts during the one before (``_next_to``);
    with ``cold_start`` the first starts 2 to 10 minutes into the run, while every
    series is still in its detectors' warm-up.
    """
    rng = cfg.rng("incidents")
    beside = cfg.rng("overlapping")
    kinds = [fault for fault in FAULTS if _fits(fault, cfg)]
    faults: list[FaultType] = []
    while len(faults) < cfg.incidents:
        faults += rng.sample(kinds, len(kinds))
    placed: list[Incident] = []
    for i, fault in enumerate(faults[: cfg.incidents]):
        if overlapping and i % 2 == 1:
            candidate = _next_to(beside, topo, placed[-1], fault)
            if candidate.end_ns < cfg.end_ns - 10 * 60 * NS_PER_S:
                placed.append(candidate)
                continue
        # First look for a fresh root, then accept a reused one, then try shorter
        # incidents, and only then let two incidents share services at once.
        for attempt in range(60):
            shrink = 0.5 if attempt >= 40 else 1.0
            candidate = _draw(rng, cfg, topo, fault, shrink, cold=cold_start and not placed)
            if not _conflicts(candidate, placed, strict=attempt < 20):
                break
        placed.append(candidate)
    placed.sort(key=lambda incident: (incident.start_ns, incident.root))
    return [replace(incident, id=f"INC-{i + 1:03d}") for i, incident in enumerate(placed)]
