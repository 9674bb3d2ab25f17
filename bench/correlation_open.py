"""Part 4 of ``bench.correlation_scale``: cost per alert with many incidents open at once.

Issue 10 asks for the cost per event at 10,000 alerts/s with 1,000 open incidents. One
domain, a static call graph of ``incidents`` separate chains ``fI-web -> fI-api -> fI-db``
(so no fault relates to another), an alert name per chain (alerts of one name starting
together are a storm: one incident), default correlation settings. First each chain's
database alerts, 10 ms apart: ``incidents`` incidents open. Then ``events`` alert
events, 0.1 ms of event time apart (10,000 alerts/s), each on a random chain's web or api
service: half new fingerprints (a pod label), half re-sends of one already sent. Batches
of ``BATCH`` go to ``DomainCorrelator.on_events`` with the wall clock at the batch's last
event, as ``IncidentLogic`` drives it; the events come in order, so the reordering bound
is 0 (each is placed as it arrives, not at the end). With ``evidence``, as many
anomalies wait as evidence first (one series each, on the ``gJ-api`` services of as many
other chains, which no alert relates to), so each alert's evidence gathering has that
much waiting. Timed: the stream after the incidents are open, median of the
repetitions, each on fresh state; beside it the Alertmanager-style ``group_by:
[alertname, cluster]`` reference of part 1 on the same events. The garbage collector runs
as ``alertflow run`` sets it (``dataflows.runner.quiet_garbage_collector``: young
collections every ``GC_YOUNG_THRESHOLD`` allocations, the start-up heap frozen, here with
the bench's input streams); the correlation state is not frozen, as in the flow.
"""

from __future__ import annotations

import gc
import json
import pickle
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from alertflow.dataflows.logic import settings as configured_settings
from alertflow.dataflows.runner import GC_YOUNG_THRESHOLD
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.schemas.config import CorrelationConfig
from alertflow.schemas.records import AlertEvent

NS = 1_000_000_000
BATCH = 1000
T0 = 1_795_600_800 * NS


def _alert(fingerprint: str, service: str, starts_ns: int, pod: str = "") -> AlertEvent:
    # One alert name per chain: alerts of one name starting together are a storm, one incident.
    chain = service.split("-")[0]
    labels = {"alertname": f"Chain{chain[1:]}Failing", "service": service, "cluster": "c",
              "severity": "warning"}  # fmt: skip
    if pod:
        labels["pod"] = pod
    return AlertEvent(fingerprint=fingerprint, status="firing", labels=labels, annotations={},
                      starts_ns=starts_ns, ends_ns=None, ref=fingerprint)  # fmt: skip


def _anomaly(j: int, ts_ns: int) -> AnomalySignal:
    labels = {"service": f"g{j}-api", "cluster": "c", "__name__": "latency"}
    return AnomalySignal(series=f"g{j}-api/latency", name="latency", labels=labels,
                         ts_ns=ts_ns, value=2.0, expected=1.0, score=0.9, severity="warning",
                         detectors=("zscore",), ref=f"g{j}")  # fmt: skip


def stream(incidents: int, events: int, seed: int = 0, evidence: int = 0) -> tuple[list, list]:
    """The events before the timed stream (evidence, the opening alerts), and it, as batches."""
    rng = random.Random(seed)
    waiting = [_anomaly(j, T0 - NS + j * NS // max(1, evidence)) for j in range(evidence)]
    opening = waiting + [
        _alert(f"db{i}", f"f{i}-db", T0 + i * NS // 100) for i in range(incidents)
    ]
    start = T0 + incidents * NS // 100
    sent: list[AlertEvent] = []
    timed: list[AlertEvent] = []
    for n in range(events):
        at = start + n * NS // 10_000
        if sent and rng.random() < 0.5:
            old = rng.choice(sent)
            timed.append(_alert(old.fingerprint, old.labels["service"], old.starts_ns,
                                old.labels["pod"]))  # fmt: skip
            continue
        i = rng.randrange(incidents)
        service = f"f{i}-{rng.choice(('web', 'api'))}"
        event = _alert(f"a{n}", service, at, pod=f"{service}-{n}")
        sent.append(event)
        timed.append(event)
    return _batches(opening), _batches(timed)


def _batches(events: list) -> list[tuple[int, list]]:
    return [(_event_ns(chunk[-1]), chunk)
            for chunk in (events[i:i + BATCH] for i in range(0, len(events), BATCH))]  # fmt: skip


def _event_ns(event: AlertEvent | AnomalySignal) -> int:
    return event.ts_ns if isinstance(event, AnomalySignal) else event.starts_ns


def edges(incidents: int, evidence: int = 0) -> list[tuple[str, str]]:
    """The chains' call edges, and those of the evidence's chains."""
    return [e for i in range(incidents) for e in ((f"f{i}-web", f"f{i}-api"),
                                                   (f"f{i}-api", f"f{i}-db"))] + [
        (f"g{j}-web", f"g{j}-api") for j in range(evidence)]  # fmt: skip


def _configured() -> IncidentSettings:
    """What ``alertflow run`` groups with: the config's correlation defaults, no lateness."""
    return replace(configured_settings(CorrelationConfig()), lateness_s=0.0)


# name, settings, share of the stream timed (the slow variants time its first part)
VARIANTS = (
    ("alertflow, as configured (noise digest, coalesced versions)", _configured(), 1.0),
    ("alertflow, grouper defaults (every version, no digest)",
     IncidentSettings(lateness_s=0.0), 1.0),
    ("alertflow, split off (before the second-root check)",
     IncidentSettings(lateness_s=0.0, split=False), 1.0),
    ("alertflow, learned inhibition off",
     IncidentSettings(lateness_s=0.0, learned_inhibition=False), 1.0),
    ("alertflow, scanning every incident (before the session index)",
     IncidentSettings(lateness_s=0.0, session_index=False), 0.05),
)  # fmt: skip


@dataclass
class OpenResult:
    """µs per alert of each variant and of the reference, and what stayed open."""

    incidents: int
    events: int
    evidence: int
    us: dict[str, float]
    open_after: dict[str, int]
    largest: dict[str, int]
    sizes: dict[str, float] = field(default_factory=dict)  # state and versions (defaults)


def _time(settings: IncidentSettings, graph: list, opening: list, timed: list) -> tuple:
    correlator = DomainCorrelator("c", settings, static_edges=graph)
    for wall, batch in opening:
        correlator.on_events(batch, wall)
    began = time.perf_counter()
    for wall, batch in timed:
        correlator.on_events(batch, wall)
    seconds = time.perf_counter() - began
    held = correlator.grouper.incidents.values()
    return seconds, len(held), max((len(i.members) for i in held), default=0)


@contextmanager
def runner_collector() -> Iterator[None]:
    """Collections as ``alertflow run`` has them: what lives now frozen, young ones rarer.

    With CPython's default (a young collection every 700 allocations) part 4 spent 5-10%
    of an alert in collections, and a full one (~80 ms at 1,000 open incidents) doubled
    the repetition it fell in; ``alertflow run`` never collects so (``dataflows.runner``).
    """
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if not frozen:  # a heap frozen before (the runner's, in tests) stays frozen
            gc.unfreeze()


def measure_open(incidents: int, events: int, repeats: int,
                 reference: Callable[[], object], evidence: int = 0) -> OpenResult:  # fmt: skip
    """Time ``events`` alerts while ``incidents`` are open: each variant, and the reference."""
    opening, timed = stream(incidents, events, evidence=evidence)
    graph = edges(incidents, evidence)
    with runner_collector():
        res = _measure(opening, timed, graph, repeats, reference,
                       OpenResult(incidents, events, evidence, {}, {}, {}))  # fmt: skip
    res.sizes = state_sizes(VARIANTS[0][1], graph, opening, timed)
    return res


def _measure(opening: list, timed: list, graph: list, repeats: int,
             reference: Callable[[], object], res: OpenResult) -> OpenResult:  # fmt: skip
    events = res.events
    for name, settings, share in VARIANTS:
        part = timed[: max(1, int(len(timed) * share))]
        n = sum(len(batch) for _, batch in part)
        runs = [_time(settings, graph, opening, part) for _ in range(repeats)]
        res.us[name] = statistics.median(r[0] for r in runs) / n * 1e6
        res.open_after[name], res.largest[name] = runs[-1][1], runs[-1][2]
    seconds = []
    for _ in range(repeats):
        sink = reference()
        began = time.perf_counter()
        for wall, batch in timed:
            sink.feed(wall, batch)  # type: ignore[attr-defined]
        seconds.append(time.perf_counter() - began)
    res.us["group_by reference"] = statistics.median(seconds) / events * 1e6
    return res


def state_sizes(settings: IncidentSettings, graph: list, opening: list, timed: list) -> dict:
    """What the state and the versions weigh after the stream (untimed): the bounds of issue 10.

    Bytes of an open incident are its pickle (what a snapshot holds); of a version, its JSON.
    """
    correlator = DomainCorrelator("c", settings, static_edges=graph)
    versions = []
    for wall, batch in opening + timed:
        out = correlator.on_events(batch, wall)
        versions.extend(d.record for d in out if d.stream == "incidents")
    held = list(correlator.grouper.incidents.values())
    state = [len(pickle.dumps(i)) for i in held]
    sizes = [len(json.dumps(r)) for r in versions]
    return {
        "members, largest": max((len(i.members) for i in held), default=0),
        "bytes per open incident (median)": int(statistics.median(state)) if state else 0,
        "bytes of the largest open incident": max(state, default=0),
        "state of the domain (MB)": len(pickle.dumps(correlator)) / 1e6,
        "versions": len(versions),
        "bytes per version (median)": int(statistics.median(sizes)) if sizes else 0,
        "bytes of the largest version": max(sizes, default=0),
    }


def open_table(res: OpenResult, repeats: int) -> str:
    """Markdown: µs per alert of each variant and the reference, with what stayed open."""
    ref = res.us["group_by reference"]
    lines = [
        f"{res.incidents} incidents opened first (one per separate chain), "
        f"{res.evidence} anomalies waiting as evidence, then {res.events} "
        f"alerts at 10,000 alerts/s of event time (the scanning variant: the first twentieth); "
        f"median of {repeats} repetitions; the garbage collector as alertflow run sets it.",
        "",
        "| replay | µs/alert | alerts/s | x reference | open incidents after | largest |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, us in res.us.items():
        held = res.open_after.get(name)
        lines.append(
            f"| {name} | {us:.1f} | {1e6 / us:,.0f} | {us / ref:.0f} | "
            f"{'—' if held is None else held} | {res.largest.get(name, '—')} |"
        )
    if res.sizes:
        lines += ["", "State and versions after the stream (defaults; members are bounded by "
                  "max_members):", "", "| measure | value |", "|---|---:|"]  # fmt: skip
        lines += [f"| {name} | {value:,.1f} |" if isinstance(value, float) else
                  f"| {name} | {value:,} |" for name, value in res.sizes.items()]  # fmt: skip
    return "\n".join(lines)
