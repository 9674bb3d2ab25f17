"""Correlation at scale: cost per event, bounded state, and the whole product on a large mixed file.

Run from the repository root::

    .venv/bin/python -m bench.correlation_scale            # full run, 3-5 minutes
    .venv/bin/python -m bench.correlation_scale --quick    # smoke run, under a minute
    .venv/bin/python -m bench.correlation_scale --record   # also append to BENCHMARKS.md
    .venv/bin/python -m bench.correlation_scale --profile  # also print the correlator's hotspots

The input is a generated, seeded estate (no simulator run: it would take longer than the
measurement). ``--clusters`` clusters (the correlation domains) run the same call graph of
``--services`` services: the first eighth are frontends, every service calls one to three
of the ten services after it, the last fifth call nothing. In every cluster:

- faults arrive as a Poisson process (mean ``--fault-every-s``); one lasts 5-30 min, hits
  one service and cascades to its callers up to two hops (each caller with probability
  0.7, 30-90 s later per hop); every hit service fires one or two alert rules, service-wide
  or per pod (``--pods``), 15-120 s after the hit, and resolves 30-180 s after the fault
  ends; each hit service also has an anomalous series from the hit to the fault's end;
  half the time the fault restarts the service's pods, so later per-pod alerts carry new
  pod names (``<service>-<replica set>-<random>``) and new fingerprints, as in Kubernetes;
- noise: lone alerts (``--noise-per-h``, 1-15 min), flapping alerts (``--flaps-per-h``: one
  fingerprint firing 1-5 min, silent 1-5 min, for 30-90 min) and lone anomalies;
- a ``Watchdog`` alert that always fires (kube-prometheus ships one), with no service
  label, started a day before the stream;
- sampled traces (``--traces-per-s``) walking the call graph from a frontend, one server
  span per visited service (each callee called with probability 0.5).

Alerts are sent the way Alertmanager's webhook sends them: first ``GROUP_WAIT_S`` after
they start, again every ``--resend-s`` while they fire (same fingerprint and ``startsAt``),
once more when they resolve. Anomaly records come every ``ANOMALY_STEP_S`` while a series is
anomalous, as the scorer emits them. Every event arrives when it is sent.

1. In-process cost: the events, in arrival order, in batches of ``BATCH`` (the file
   source's poll size), split by domain, are fed to one ``DomainCorrelator`` per domain the
   way ``dataflows.logic.IncidentLogic`` does (``on_events``, then ``next_wall``; ``on_tick``
   whenever that time has come), with the product's default correlation settings, traces
   on (``trace_wait_s``), and an injected wall clock equal to the arrival time: a live
   stream. Generation is not timed. µs/event is the median over R repetitions of the whole
   replay (fresh state each time); events/s is its inverse. The same replay is timed on
   the alerts alone (no traces input, so no span alignment) and with the reference:
   Alertmanager-style ``group_by: [alertname, cluster]``, i.e. a dict of groups keyed
   ``(alertname, cluster)`` (anomalies by ``(series name, cluster)``), each a dict
   fingerprint → ``startsAt``, a resolve removing its fingerprint and an empty group;
   spans are skipped. It is what Alertmanager keeps per alert, no more. Sizes: full run
   ``--events`` 100k, R=5; ``--quick`` 40k, R=3.
2. Bounded state: a long stream (``--memory-hours`` of event time, ``--memory-clusters``
   domains, same estate otherwise) through the same replay; at checkpoints, the live state
   summed over domains: open incidents and their members (the largest incident too),
   ``by_fingerprint``, events held for event-time order and for span alignment, the call
   graph's edges and remembered span ids, and ``len(pickle.dumps(correlator))`` (summed,
   and the largest domain). Bounded means these level off while the count of incidents
   opened keeps growing. Sizes: full run 3 domains over 72 h; ``--quick`` 2 over 16 h.
3. The product: the estate's alerts as Alertmanager v4 webhook payloads (one alert per
   payload, one payload per line) and its traces as OTLP JSON export requests (one trace
   per line) run through ``alertflow run --input alerts=F --input traces=F --output DIR
   --stats-file S`` (the installed console script), default settings: so spans also become
   derived series that are scored. Events = alert payloads + spans. Wall time is the whole
   process; start-up (plus shutdown) is measured on a one-alert, one-trace input and
   reported beside it. CPU is the child's user + system. The in-job latency (source read
   to sink) comes from the stats file. There is no decode-only option in ``dataflows/cli.py``,
   so no passthrough reference is run for the product. Sizes: full run ``--product-events``
   300k (killed after ``--product-timeout-s`` 150 s: the progress then comes from the newest
   output's event time); ``--quick`` 60k (40 s). The machine is shared: compare the rows of
   one run, not runs.
4. Many open incidents (``bench.correlation_open``): ``--open-incidents`` 1,000 open at
   once, then ``--open-events`` 5,000 alerts at 10,000 alerts/s; µs per alert with the
   defaults, without learned inhibition, and scanning every incident as before the
   session index, beside the group_by reference (``--quick``: 200 and 1,000);
   ``--open-evidence`` anomalies waiting as evidence meanwhile (default 0).
"""

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import math
import pickle
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from alertflow.dataflows.logic import domain_of, settings
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.correlation.correlator import CorrelationEvent, DomainCorrelator
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.latency import LatencyHistogram
from alertflow.operators.simulate.alerts import alert_fingerprint
from alertflow.schemas.config import CorrelationConfig
from alertflow.schemas.jsoncodec import dumps, loads
from alertflow.schemas.records import AlertEvent, SpanEvent
from alertflow.schemas.timefmt import format_ns

from bench.correlation_open import measure_open, open_table
from bench.report import command_line, machine, record, revision

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Correlation at scale"
NS = 1_000_000_000
T0_NS = 1_795_600_800 * NS  # 2026-11-25T10:00:00Z
GROUP_WAIT_S = 30
ANOMALY_STEP_S = 30
BATCH = 1000
WINDOW_NS = 60 * NS  # generation works one minute of event time at a time
TARGET_RATE = 10_000.0
ZERO_TIME = "0001-01-01T00:00:00Z"
SPAN_CAP = ServiceGraph().max_pending

# (alertname, severity, per pod)
FAULT_RULES = (
    ("HighErrorRate", "critical", False),
    ("HighRequestLatency", "warning", False),
    ("KubePodCrashLooping", "warning", True),
    ("CPUThrottlingHigh", "warning", True),
)
NOISE_RULES = (
    ("KubePodNotReady", "warning", True),
    ("DiskSpaceLow", "warning", False),
    ("KubeJobFailed", "warning", False),
)
FLAP_RULE = ("TargetDown", "warning", True)


# --------------------------------------------------------------------------- the estate


@dataclass(frozen=True, slots=True)
class Estate:
    """What the generated stream looks like; rates are per cluster."""

    clusters: int = 20
    services: int = 40
    pods: int = 3
    fault_every_s: float = 600.0
    resend_s: int = 60
    noise_per_h: float = 6.0
    flaps_per_h: float = 1.0
    traces_per_s: float = 0.05
    seed: int = 0

    def cluster_names(self) -> list[str]:
        return [f"c{c:02d}" for c in range(self.clusters)]


@dataclass(frozen=True, slots=True)
class Episode:
    """One alert firing (``anomaly``: one anomalous stretch of a series) in one cluster."""

    labels: dict[str, str]
    fingerprint: str
    starts_ns: int
    ends_ns: int | None  # None: still firing when the stream ends
    anomaly: bool = False
    score: float = 0.0


def call_graph(estate: Estate) -> dict[str, list[str]]:
    """Caller → callees: a layered DAG, so distances range from one hop to many."""
    rng = random.Random(f"{estate.seed}:graph")
    names = [f"svc-{i:02d}" for i in range(estate.services)]
    leaves = int(estate.services * 0.8)
    graph = {}
    for i, name in enumerate(names):
        later = names[i + 1 : i + 11] if i < leaves else []
        graph[name] = rng.sample(later, rng.randint(1, min(3, len(later)))) if later else []
    return graph


class Pods:
    """The current pod names of every service of a cluster; a fault may restart them."""

    def __init__(self, rng: random.Random, services: list[str], per_service: int) -> None:
        self.rng = rng
        self.per_service = per_service
        self.names = {s: self._fresh(s) for s in services}

    def _fresh(self, service: str) -> list[str]:
        # A Deployment's pods: <service>-<replica set>-<random>; new names after a restart.
        rs = f"{self.rng.getrandbits(40):010x}"
        return [f"{service}-{rs}-{self.rng.getrandbits(25):05x}" for _ in range(self.per_service)]

    def restart(self, service: str) -> None:
        self.names[service] = self._fresh(service)


def _labels(cluster: str, service: str | None, rule: tuple, pod: str | None) -> dict[str, str]:
    name, severity, _ = rule
    labels = {"alertname": name, "cluster": cluster, "namespace": "shop", "severity": severity}
    if service is not None:
        labels["service"] = service
    if pod is not None:
        labels["pod"] = pod
    return labels


def _alert(labels: dict[str, str], starts_ns: int, ends_ns: int | None) -> Episode:
    return Episode(labels, alert_fingerprint(labels), starts_ns, ends_ns)


def _series(cluster: str, service: str, starts_ns: int, ends_ns: int, score: float) -> Episode:
    labels = {"cluster": cluster, "service": service, "__name__": "http_request_duration_p99"}
    return Episode(labels, f"{cluster}/{service}/p99", starts_ns, ends_ns, True, score)


def _poisson(rng: random.Random, rate_per_s: float, start_ns: int, end_ns: int) -> Iterator[int]:
    if rate_per_s <= 0:
        return
    at = start_ns + int(rng.expovariate(rate_per_s) * NS)
    while at < end_ns:
        yield at
        at += int(rng.expovariate(rate_per_s) * NS)


def _rules(rng: random.Random, cluster: str, service: str, rule: tuple, pods: Pods,
           starts_ns: int, ends_ns: int) -> list[Episode]:
    if not rule[2]:
        return [_alert(_labels(cluster, service, rule, None), starts_ns, ends_ns)]
    names = pods.names[service]
    hit = rng.sample(names, rng.randint(1, len(names)))
    return [_alert(_labels(cluster, service, rule, pod), starts_ns, ends_ns) for pod in hit]


def _fault(rng: random.Random, cluster: str, callers: dict[str, list[str]], pods: Pods,
           at_ns: int) -> list[Episode]:
    names = list(callers)
    root = names[min(len(names) - 1, int(len(names) * rng.triangular(0.2, 1.0, 0.9)))]
    ends = at_ns + rng.randint(300, 1800) * NS
    hit, frontier = {root: at_ns}, [root]
    for _ in range(2):  # the fault cascades to callers, two hops at most
        reached = []
        for service in frontier:
            for caller in callers[service]:
                if caller not in hit and rng.random() < 0.7:
                    hit[caller] = hit[service] + rng.randint(30, 90) * NS
                    reached.append(caller)
        frontier = reached
    out = []
    for service, hit_ns in hit.items():
        if hit_ns >= ends:
            continue
        for rule in rng.sample(FAULT_RULES, rng.randint(1, 2)):
            starts = hit_ns + rng.randint(15, 120) * NS
            out += _rules(rng, cluster, service, rule, pods, starts,
                          ends + rng.randint(30, 180) * NS)
        out.append(_series(cluster, service, hit_ns, ends, rng.uniform(0.3, 0.95)))
        if rng.random() < 0.5:
            pods.restart(service)  # the next alerts about this service name new pods
    return out


def _flapping(rng: random.Random, cluster: str, services: list[str], pods: Pods,
              at_ns: int) -> list[Episode]:
    service = rng.choice(services)
    labels = _labels(cluster, service, FLAP_RULE, rng.choice(pods.names[service]))
    stop, out = at_ns + rng.randint(1800, 5400) * NS, []
    while at_ns < stop:
        fired = at_ns + rng.randint(60, 300) * NS
        out.append(_alert(labels, at_ns, fired))
        at_ns = fired + rng.randint(60, 300) * NS
    return out


def _noise(rng: random.Random, cluster: str, services: list[str], pods: Pods,
           at_ns: int) -> list[Episode]:
    rule, service = rng.choice(NOISE_RULES), rng.choice(services)
    pod = rng.choice(pods.names[service]) if rule[2] else None
    return [
        _alert(_labels(cluster, service, rule, pod), at_ns, at_ns + rng.randint(60, 900) * NS),
        _series(cluster, rng.choice(services), at_ns, at_ns + NS, rng.uniform(0.3, 0.7)),
    ]


def schedule(estate: Estate, start_ns: int, end_ns: int) -> list[Episode]:
    """Every episode of the stream, by start."""
    graph = call_graph(estate)
    callers: dict[str, list[str]] = {s: [] for s in graph}
    for caller, callees in graph.items():
        for callee in callees:
            callers[callee].append(caller)
    services = list(graph)
    watchdog = ("Watchdog", "none", False)
    out: list[Episode] = []
    for cluster in estate.cluster_names():
        rng = random.Random(f"{estate.seed}:{cluster}")
        pods = Pods(rng, services, estate.pods)
        out.append(_alert(_labels(cluster, None, watchdog, None), start_ns - 86400 * NS, None))
        starts = [(at, "fault") for at in _poisson(rng, 1 / estate.fault_every_s, start_ns,
                                                   end_ns)]
        starts += [(at, "noise") for at in _poisson(rng, estate.noise_per_h / 3600, start_ns,
                                                    end_ns)]
        starts += [(at, "flap") for at in _poisson(rng, estate.flaps_per_h / 3600, start_ns,
                                                   end_ns)]
        for at, kind in sorted(starts):  # in time order, so pod restarts apply to what follows
            if kind == "fault":
                out += _fault(rng, cluster, callers, pods, at)
            elif kind == "noise":
                out += _noise(rng, cluster, services, pods, at)
            else:
                out += _flapping(rng, cluster, services, pods, at)
    out.sort(key=lambda e: e.starts_ns)
    return out


# --------------------------------------------------------------------------- the stream


Trace = tuple[SpanEvent, ...]
Arrival = AlertEvent | AnomalySignal | Trace


def _sends(ep: Episode, resend_ns: int, w0: int, w1: int,
           end_ns: int) -> Iterator[tuple[int, Arrival]]:
    """(send time, event) of one episode within [w0, w1)."""
    if ep.anomaly:
        step = ANOMALY_STEP_S * NS
        at = ep.starts_ns + max(0, -(-(w0 - ep.starts_ns) // step)) * step
        while at < w1 and at <= (ep.ends_ns or end_ns):
            severity = "critical" if ep.score >= 0.6 else "warning"
            yield at, AnomalySignal(
                series=ep.fingerprint, name=ep.labels["__name__"], labels=ep.labels, ts_ns=at,
                value=2.0, expected=1.0, score=ep.score, severity=severity,
                detectors=("ensemble",), ref="anomalies",
            )
            at += step
        return
    first = ep.starts_ns + GROUP_WAIT_S * NS
    stop = min(end_ns, ep.ends_ns if ep.ends_ns is not None else end_ns)
    at = first + max(0, -(-(w0 - first) // resend_ns)) * resend_ns
    while at < min(w1, stop):
        yield at, _alert_event(ep, "firing")
        at += resend_ns
    if ep.ends_ns is not None and w0 <= ep.ends_ns < min(w1, end_ns) and first < ep.ends_ns:
        yield ep.ends_ns, _alert_event(ep, "resolved")


def _alert_event(ep: Episode, status: str) -> AlertEvent:
    service = ep.labels.get("service", "the cluster")
    return AlertEvent(
        fingerprint=ep.fingerprint, status=status, labels=ep.labels,
        annotations={"summary": f"{ep.labels['alertname']} on {service}"},
        starts_ns=ep.starts_ns, ends_ns=ep.ends_ns if status == "resolved" else None,
        generator_url="http://prometheus/graph", receiver="alertflow", ref="alerts",
    )


def _trace(rng: random.Random, graph: dict[str, list[str]], cluster: str, at: int) -> Trace:
    trace_id = f"{rng.getrandbits(128) or 1:032x}"
    attrs = {"k8s.cluster.name": cluster, "service.namespace": "shop"}
    spans: list[SpanEvent] = []

    def visit(service: str, parent: str, start: int, depth: int) -> int:
        span_id = f"{rng.getrandbits(64) or 1:016x}"
        cursor = start + rng.randint(1, 5) * 1_000_000
        for callee in graph[service]:
            if depth < 4 and rng.random() < 0.5:
                cursor = visit(callee, span_id, cursor, depth + 1)
        end = cursor + rng.randint(1, 5) * 1_000_000
        spans.append(SpanEvent(
            trace_id=trace_id, span_id=span_id, parent_span_id=parent, service=service,
            name="GET /", kind="server", start_ns=start, end_ns=end,
            is_error=rng.random() < 0.01, attributes=attrs, ref="traces",
        ))
        return end

    visit(rng.choice(list(graph)[: max(1, len(graph) // 8)]), "", at, 0)
    return tuple(spans)


def arrivals(estate: Estate, start_ns: int, end_ns: int) -> Iterator[tuple[int, Arrival]]:
    """(arrival time, event or trace) in arrival order, generated a minute at a time."""
    graph = call_graph(estate)
    episodes = schedule(estate, start_ns, end_ns)
    resend_ns = estate.resend_s * NS
    active: list[Episode] = []
    nxt = 0
    w0 = start_ns
    while w0 < end_ns:
        w1 = min(end_ns, w0 + WINDOW_NS)
        while nxt < len(episodes) and episodes[nxt].starts_ns < w1:
            active.append(episodes[nxt])
            nxt += 1
        active = [e for e in active if e.ends_ns is None or e.ends_ns >= w0]
        batch: list[tuple[int, int, Arrival]] = []
        for ep in active:
            for when, event in _sends(ep, resend_ns, w0, w1, end_ns):
                batch.append((when, len(batch), event))
        rng = random.Random(f"{estate.seed}:traces:{w0}")
        for cluster in estate.cluster_names():
            for at in _poisson(rng, estate.traces_per_s, w0, w1):
                trace = _trace(rng, graph, cluster, at)
                batch.append((max(s.end_ns for s in trace), len(batch), trace))
        batch.sort(key=lambda item: item[:2])
        for when, _, item in batch:
            yield when, item
        w0 = w1


def _flatten(item: Arrival) -> Iterator[CorrelationEvent]:
    if isinstance(item, tuple):
        yield from item
    else:
        yield item


def horizon_ns(estate: Estate, n_events: int) -> int:
    """An end of the stream that leaves room for ``n_events`` (scheduling days costs seconds)."""
    sample_ns = 1800 * NS
    n = sum(len(item) if isinstance(item, tuple) else 1
            for _, item in arrivals(estate, T0_NS, T0_NS + sample_ns))
    return T0_NS + max(sample_ns, 3 * sample_ns * n_events // max(n, 1))


def batches(items: Iterator[tuple[int, Arrival]]) -> Iterator[tuple[int, list]]:
    """(wall time, events) per poll of ``BATCH`` events; wall = the latest arrival so far."""
    wall, batch = 0, []
    for when, item in items:
        wall = max(wall, when)
        batch.extend(_flatten(item))
        if len(batch) >= BATCH:
            yield wall, batch
            batch = []
    if batch:
        yield wall, batch


# --------------------------------------------------------------------------- the replays


class Replay:
    """One ``DomainCorrelator`` per domain, driven as ``IncidentLogic`` drives them.

    Bytewax calls ``notify_at`` after every callback of a key and ``on_notify`` once that
    time has come; here the clock is the arrival time of the batch.
    """

    def __init__(self, traces: bool, config: CorrelationConfig | None = None) -> None:
        self.config = config or CorrelationConfig()
        self.settings = settings(self.config)
        self.trace_wait_s = self.config.trace_wait_s if traces else None
        self.domains: dict[str, DomainCorrelator] = {}
        self.due: dict[str, int] = {}
        self.decisions = 0
        self.opened = 0
        self.reopened = 0  # a first version of an incident id already recorded
        self.ticks = 0
        self.busy = 0
        self._ids: set[str] = set()

    def feed(self, wall_ns: int, events: list) -> None:
        """One poll: the timers that are due, then each domain's share of the batch."""
        for domain, due in list(self.due.items()):
            if due <= wall_ns:
                self.ticks += 1
                self._count(self.domains[domain].on_tick(wall_ns))
                self._schedule(domain)
                # Due again at once: Bytewax would call on_notify on every activation.
                self.busy += self.due.get(domain, wall_ns + 1) <= wall_ns
        by_domain: dict[str, list] = {}
        for event in events:
            by_domain.setdefault(domain_of(event, self.config), []).append(event)
        for domain, values in by_domain.items():
            correlator = self.domains.get(domain)
            if correlator is None:
                correlator = DomainCorrelator(domain, self.settings, self.trace_wait_s)
                self.domains[domain] = correlator
            self._count(correlator.on_events(values, wall_ns))
            self._schedule(domain)

    def finish(self, wall_ns: int) -> None:
        """End of input."""
        for correlator in self.domains.values():
            self._count(correlator.finish(wall_ns))

    def _schedule(self, domain: str) -> None:
        due = self.domains[domain].next_wall()
        if due is None:
            self.due.pop(domain, None)
        else:
            self.due[domain] = due

    def _count(self, decisions: list) -> None:
        self.decisions += len(decisions)
        for d in decisions:
            if d.stream == "incidents" and d.record.version == 1:
                self.opened += 1
                self.reopened += d.key in self._ids
                self._ids.add(d.key)


class GroupByReference:
    """Alertmanager-style ``group_by: [alertname, cluster]``: dicts of fingerprint → startsAt."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], dict[str, int]] = {}
        self.episodes = 0

    def feed(self, wall_ns: int, events: list) -> None:
        groups = self.groups
        for e in events:
            if isinstance(e, SpanEvent):
                continue
            if isinstance(e, AnomalySignal):
                key, starts, resolved = (e.name, e.labels.get("cluster", "")), e.ts_ns, False
            else:
                key = (e.labels.get("alertname", ""), e.labels.get("cluster", ""))
                starts, resolved = e.starts_ns, e.status == "resolved"
            group = groups.get(key)
            if resolved:
                if group is not None and group.pop(e.fingerprint, None) is not None and not group:
                    del groups[key]
                continue
            if group is None:
                group = groups[key] = {}
            if e.fingerprint not in group:
                group[e.fingerprint] = starts
                self.episodes += 1

    def finish(self, wall_ns: int) -> None:
        return None


def _timed(make: Callable[[], Replay | GroupByReference], polls: list) -> float:
    sink = make()
    began = time.perf_counter()
    for wall, events in polls:
        sink.feed(wall, events)
    sink.finish(polls[-1][0])
    return time.perf_counter() - began


@dataclass
class CostResult:
    """Part 1: seconds per repetition for each replay, and what the replay saw."""

    events: int
    alerts: int
    anomalies: int
    spans: int
    hours: float
    seconds: dict[str, list[float]] = field(default_factory=dict)
    replay: Replay | None = None
    reference: GroupByReference | None = None
    peak_open: int = 0
    peak_members: int = 0

    def us(self, name: str, n: int | None = None) -> float:
        return statistics.median(self.seconds[name]) / (n or self.events) * 1e6


def measure_cost(estate: Estate, n_events: int, repeats: int, profile: bool) -> CostResult:
    """Generate about ``n_events`` events, then time every replay of them ``repeats`` times."""
    polls, hours = _polls(estate, n_events)
    flat = [e for _, events in polls for e in events]
    alerts_only = [(w, [e for e in ev if isinstance(e, AlertEvent)]) for w, ev in polls]
    alerts_only = [(w, ev) for w, ev in alerts_only if ev]
    res = CostResult(
        events=len(flat),
        alerts=sum(isinstance(e, AlertEvent) for e in flat),
        anomalies=sum(isinstance(e, AnomalySignal) for e in flat),
        spans=sum(isinstance(e, SpanEvent) for e in flat),
        hours=hours,
    )
    runs = {
        "correlator": (lambda: Replay(traces=True), polls),
        "alerts only": (lambda: Replay(traces=False), alerts_only),
        "reference": (GroupByReference, polls),
    }
    for rep in range(repeats):
        for name, (make, data) in runs.items():
            res.seconds.setdefault(name, []).append(_timed(make, data))
        print(f"  cost repetition {rep + 1}/{repeats}: " + ", ".join(
            f"{k} {v[-1]:.2f} s" for k, v in res.seconds.items()), file=sys.stderr, flush=True)
    res.replay, res.peak_open, res.peak_members = _observed(polls)
    res.reference = GroupByReference()
    for wall, events in polls:
        res.reference.feed(wall, events)
    if profile:
        _profile(polls)
    return res


def _polls(estate: Estate, n_events: int) -> tuple[list, float]:
    polls, total = [], 0
    for wall, events in batches(arrivals(estate, T0_NS, horizon_ns(estate, n_events))):
        polls.append((wall, events))
        total += len(events)
        if total >= n_events:
            break
    return polls, (polls[-1][0] - T0_NS) / 3600 / NS


def _observed(polls: list) -> tuple[Replay, int, int]:
    """An untimed replay that notes the largest state it went through."""
    replay, peak_open, peak_members = Replay(traces=True), 0, 0
    for wall, events in polls:
        replay.feed(wall, events)
        incidents = [i for c in replay.domains.values() for i in c.grouper.incidents.values()]
        peak_open = max(peak_open, len(incidents))
        peak_members = max(peak_members, sum(len(i.members) for i in incidents))
    replay.finish(polls[-1][0])
    return replay, peak_open, peak_members


def _profile(polls: list) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(_timed, lambda: Replay(traces=True), polls)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue(), file=sys.stderr)


# --------------------------------------------------------------------------- bounded state


@dataclass
class Checkpoint:
    """The live state of every domain at one moment of the long stream."""

    hours: float
    events: int
    opened: int
    reopened: int
    open_incidents: int
    members: int
    largest: int
    by_fingerprint: int
    held: int
    pending: int
    edges: int
    span_ids: int
    span_pickled: int
    pickled: int
    pickled_max: int
    pickle_ms: float
    oldest_h: float
    segment_us: float = math.nan  # µs/event fed since the previous checkpoint


def checkpoint(replay: Replay, wall_ns: int, events: int) -> Checkpoint:
    """Measure the live state (private fields of the call graph are read, not changed)."""
    point = Checkpoint((wall_ns - T0_NS) / 3600 / NS, events, replay.opened, replay.reopened,
                       *([0] * 12), oldest_h=0.0)
    oldest = wall_ns
    for correlator in replay.domains.values():
        grouper = correlator.grouper
        sizes = [len(i.members) for i in grouper.incidents.values()]
        point.open_incidents += len(sizes)
        point.members += sum(sizes)
        point.largest = max([point.largest, *sizes])
        oldest = min([oldest, *(i.opened_ns for i in grouper.incidents.values() if any(
            m.kind == "alert" and m.title != "Watchdog" for m in i.members.values()))])
        point.by_fingerprint += len(grouper.by_fingerprint)
        point.held += len(correlator.order)
        point.pending += len(correlator.alignment.pending) if correlator.alignment else 0
        graph = grouper.graph
        point.edges += len(graph.edges)
        tables = (getattr(graph, "_span_service", {}), getattr(graph, "_orphans", {}))
        point.span_ids += sum(len(t) for t in tables)
        point.span_pickled += len(pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL))
        began = time.perf_counter()
        size = len(pickle.dumps(correlator, protocol=pickle.HIGHEST_PROTOCOL))
        point.pickle_ms = max(point.pickle_ms, (time.perf_counter() - began) * 1e3)
        point.pickled += size
        point.pickled_max = max(point.pickled_max, size)
    point.oldest_h = (wall_ns - oldest) / 3600 / NS
    return point


def measure_memory(estate: Estate, hours: float, checkpoints: int) -> list[Checkpoint]:
    """Replay ``hours`` of event time, measuring the state ``checkpoints`` times."""
    end = T0_NS + int(hours * 3600) * NS
    marks = [T0_NS + (end - T0_NS) * (k + 1) // checkpoints for k in range(checkpoints)]
    replay, events, out = Replay(traces=True), 0, []
    busy_s, since = 0.0, 0

    def mark(at_ns: int) -> None:
        out.append(checkpoint(replay, at_ns, events))
        out[-1].segment_us = busy_s / (events - since) * 1e6 if events > since else math.nan
        print(f"  memory: {out[-1].hours:.1f} h, {events:,} events", file=sys.stderr, flush=True)

    for wall, batch in batches(arrivals(estate, T0_NS, end)):
        while marks and wall >= marks[0]:
            mark(marks.pop(0))
            busy_s, since = 0.0, events
        began = time.perf_counter()
        replay.feed(wall, batch)
        busy_s += time.perf_counter() - began
        events += len(batch)
    if marks:
        mark(end)
    return out


# --------------------------------------------------------------------------- the product


def webhook_line(event: AlertEvent) -> bytes:
    """The Alertmanager v4 webhook payload carrying one alert."""
    group = {k: event.labels[k] for k in ("alertname", "cluster") if k in event.labels}
    ends = format_ns(event.ends_ns) if event.ends_ns is not None else ZERO_TIME
    return dumps({
        "version": "4", "groupKey": f"{{}}:{group}", "truncatedAlerts": 0,
        "status": event.status, "receiver": "alertflow", "groupLabels": group,
        "commonLabels": event.labels, "commonAnnotations": event.annotations,
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": event.status, "labels": event.labels, "annotations": event.annotations,
            "startsAt": format_ns(event.starts_ns), "endsAt": ends,
            "generatorURL": event.generator_url, "fingerprint": event.fingerprint,
        }],
    })


def otlp_line(trace: Trace) -> bytes:
    """One OTLP JSON ExportTraceServiceRequest with the trace's spans, grouped by service."""
    by_service: dict[str, list[dict]] = {}
    for s in trace:
        by_service.setdefault(s.service, []).append({
            "traceId": s.trace_id, "spanId": s.span_id, "parentSpanId": s.parent_span_id,
            "name": s.name, "kind": 2, "startTimeUnixNano": str(s.start_ns),
            "endTimeUnixNano": str(s.end_ns), "status": {"code": 2 if s.is_error else 0},
        })
    attrs = trace[0].attributes
    return dumps({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            *({"key": k, "value": {"stringValue": v}} for k, v in attrs.items()),
        ]},
        "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}],
    } for service, spans in by_service.items()]})


@dataclass
class ProductRun:
    """One ``alertflow run`` on files: what went in, how long it took, what came out."""

    alerts: int
    spans: int
    lines: int
    hours: float
    wall_s: float = math.nan
    cpu_s: float = math.nan
    rc: int | None = None
    outputs: dict[str, int] = field(default_factory=dict)
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    error: str = ""
    reached_h: float = math.nan  # event time of the newest output, when the run was killed
    output_mb: float = 0.0
    opened: int = 0  # incident_opened notifications
    opened_ids: int = 0  # distinct incidents they announce

    @property
    def events(self) -> int:
        return self.alerts + self.spans


def write_inputs(estate: Estate, n_events: int, work: Path) -> ProductRun:
    """alerts.jsonl and traces.jsonl with at least ``n_events`` events; and a tiny pair."""
    alerts = spans = lines = 0
    last = T0_NS
    with (work / "alerts.jsonl").open("wb") as a, (work / "traces.jsonl").open("wb") as t:
        for when, item in arrivals(estate, T0_NS, horizon_ns(estate, n_events)):
            if isinstance(item, AlertEvent):
                a.write(webhook_line(item) + b"\n")
                alerts += 1
            elif isinstance(item, tuple):
                t.write(otlp_line(item) + b"\n")
                spans += len(item)
            else:
                continue  # anomalies come from the product's own scoring
            lines += 1
            last = when
            if alerts + spans >= n_events:
                break
    for name in ("alerts", "traces"):
        head = (work / f"{name}.jsonl").open("rb").readline()
        (work / f"tiny-{name}.jsonl").write_bytes(head)
    return ProductRun(alerts, spans, lines, (last - T0_NS) / 3600 / NS)


def run_product(work: Path, prefix: str, run: ProductRun, timeout_s: float) -> ProductRun:
    """Run ``alertflow run`` on ``<prefix>alerts.jsonl`` and ``<prefix>traces.jsonl``."""
    exe = Path(sys.executable).with_name("alertflow")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "alertflow.dataflows.cli"]
    out, stats = work / f"{prefix}out", work / f"{prefix}stats"
    cmd += ["run", "--input", f"alerts={work / f'{prefix}alerts.jsonl'}",
            "--input", f"traces={work / f'{prefix}traces.jsonl'}",
            "--output", str(out), "--stats-file", str(stats)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False,
                              timeout=timeout_s)
        run.rc = proc.returncode
        if proc.returncode:
            run.error = proc.stderr[-1500:]
    except subprocess.TimeoutExpired:
        run.error = f"did not finish within {timeout_s:.0f} s (killed)"
        run.reached_h = _reached_h(out)
    run.wall_s = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for path in sorted(out.glob("*.jsonl")) if out.exists() else []:
        with path.open("rb") as f:
            run.outputs[path.stem] = sum(1 for _ in f)
        run.output_mb += path.stat().st_size / 1e6
    notes = out / "notifications.jsonl"
    if notes.exists():
        opened = [n["incident_id"] for n in map(loads, notes.read_bytes().splitlines())
                  if n.get("kind") == "incident_opened"]
        run.opened, run.opened_ids = len(opened), len(set(opened))
    hist = LatencyHistogram()
    for path in work.glob(f"{stats.name}.*.json"):
        with contextlib.suppress(ValueError, OSError):
            counts = loads(path.read_bytes())["latency_counts"]
            hist.merge(LatencyHistogram(counts=counts, count=sum(counts)))
    if hist.count:
        run.p50_ms, run.p99_ms, run.max_ms = (hist.percentile(q) for q in (50, 99, 100))
    return run


def _reached_h(out: Path) -> float:
    """Event time (hours since the start) of the newest incident or anomaly written so far."""
    newest = T0_NS
    for name, key in (("incidents", "updated_at"), ("anomalies", "ts")):
        path = out / f"{name}.jsonl"
        if path.exists():
            for line in path.read_bytes().splitlines()[-200:]:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    stamp = dt.datetime.fromisoformat(loads(line)[key].replace("Z", "+00:00"))
                    newest = max(newest, int(stamp.timestamp()) * NS)
    return (newest - T0_NS) / 3600 / NS


def measure_product(estate: Estate, n_events: int, timeout_s: float) -> tuple[ProductRun, ...]:
    """Start-up on a tiny input, then the whole file."""
    with tempfile.TemporaryDirectory(prefix="correlation-scale-") as tmp:
        work = Path(tmp)
        full = write_inputs(estate, n_events, work)
        print(f"  product input: {full.alerts:,} alerts + {full.spans:,} spans "
              f"({full.hours:.1f} h of event time)", file=sys.stderr, flush=True)
        tiny = run_product(work, "tiny-", ProductRun(1, 0, 2, 0.0), 120)
        print(f"  start-up run: {tiny.wall_s:.1f} s", file=sys.stderr, flush=True)
        full = run_product(work, "", full, timeout_s)
        print(f"  product run: {full.wall_s:.1f} s", file=sys.stderr, flush=True)
    return tiny, full


# --------------------------------------------------------------------------- the report


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def cost_table(res: CostResult, repeats: int) -> str:
    """Part 1's table."""
    mixed, alerts_us = res.us("correlator"), res.us("alerts only", res.alerts)
    ref = res.us("reference")
    rows = [
        f"Stream: {res.events:,} events over {res.hours:.1f} h of event time: {res.alerts:,} "
        f"alerts ({res.alerts / res.events:.0%}), {res.anomalies:,} anomaly records "
        f"({res.anomalies / res.events:.0%}), {res.spans:,} spans "
        f"({res.spans / res.events:.0%}); medians of R={repeats}.",
        "",
        "| replay | µs/event | events/s | vs reference | target | met |",
        "|---|---:|---:|---:|---|---|",
        f"| correlator, mixed events (traces on) | {mixed:.1f} | {1e6 / mixed:,.0f} | "
        f"{mixed / ref:,.0f}x | ≥ 10,000 events/s (≤ 100 µs/event) | "
        f"{_met(mixed <= 1e6 / TARGET_RATE)} |",
        f"| correlator, the alerts alone (no traces input), per alert | {alerts_us:.1f} | "
        f"{1e6 / alerts_us:,.0f} | — | ≥ 10,000 alerts/s | "
        f"{_met(alerts_us <= 1e6 / TARGET_RATE)} |",
        f"| reference: dict group_by (alertname, cluster), same mixed events | {ref:.2f} | "
        f"{1e6 / ref:,.0f} | 1x | — | |",
    ]
    replay, reference = res.replay, res.reference
    assert replay is not None and reference is not None
    rows += [
        "",
        f"What the correlator did: {len(replay.domains)} domains, {replay.opened:,} incidents "
        f"recorded ({replay.reopened:,} of them an incident id already recorded, opened "
        f"again), {replay.decisions:,} decisions, {replay.ticks:,} timer callbacks in "
        f"{res.events // BATCH + 1:,} polls ({replay.busy:,} of them left the timer due at "
        "once: Bytewax would call `on_notify` again on every activation); at most "
        f"{res.peak_open:,} open incidents holding "
        f"{res.peak_members:,} members. Reference: {reference.episodes:,} new group members, "
        f"{len(reference.groups):,} groups at the end.",
    ]
    return "\n".join(rows)


def memory_table(points: list[Checkpoint], estate: Estate) -> str:
    """Part 2's table and verdicts."""
    rows = [
        f"{estate.clusters} domains, {points[-1].hours:.0f} h of event time; state summed over "
        "domains. Members: of open incidents (the largest incident's). Held: events waiting "
        "for event-time order / for spans. Span ids: the call graph's table of recent span "
        "ids (and orphans), kept to join a child span to its parent. Pickled: "
        "`pickle.dumps(correlator)`, summed (the largest domain), and the span-id table's "
        "share. Oldest open: age of the oldest open incident with an alert other than "
        "Watchdog. µs/event: the replay's cost since the previous checkpoint.",
        "",
        "| event time h | events in | incidents recorded (re-opened ids) | open incidents "
        "| members (largest) | by_fingerprint | held order / spans | edges | span ids "
        "| pickled KiB (largest domain) | of which span ids KiB | pickle ms (max) | oldest open h "
        "| µs/event |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        rows.append(
            f"| {p.hours:.1f} | {p.events:,} | {p.opened:,} ({p.reopened:,}) | "
            f"{p.open_incidents:,} | "
            f"{p.members:,} ({p.largest:,}) | {p.by_fingerprint:,} | {p.held:,} / {p.pending:,} "
            f"| {p.edges:,} | {p.span_ids:,} | {p.pickled / 1024:,.0f} "
            f"({p.pickled_max / 1024:,.0f}) | {p.span_pickled / 1024:,.0f} | {p.pickle_ms:.1f} "
            f"| {p.oldest_h:.1f} | {p.segment_us:.1f} |"
        )
    half = len(points) // 2
    first, second = points[:half], points[half:]

    def levels_off(value: Callable[[Checkpoint], float]) -> str:
        before, after = max(map(value, first)), max(map(value, second))
        return f"{after / before:.2f}x ({_met(after <= 1.5 * before)})" if before else "n/a"

    rows += [
        "",
        f"Largest value in the second half / in the first half (levels off: ≤ 1.5x) while "
        f"incidents recorded went {first[-1].opened:,} → {second[-1].opened:,}: members "
        f"{levels_off(lambda p: p.members)}, largest incident "
        f"{levels_off(lambda p: p.largest)}, held events "
        f"{levels_off(lambda p: p.held + p.pending)}, pickled state without span ids "
        f"{levels_off(lambda p: p.pickled - p.span_pickled)}, span ids "
        f"{levels_off(lambda p: p.span_ids)} (capped by count, "
        f"`ServiceGraph.max_pending` = {SPAN_CAP:,} per domain).",
    ]
    return "\n".join(rows)


def product_table(tiny: ProductRun, full: ProductRun) -> str:
    """Part 3's table."""
    def rate(n: int, seconds: float) -> str:
        return f"{n / seconds:,.0f}" if seconds > 0 else "n/a"

    steady = full.wall_s - tiny.wall_s
    ok = not full.error and full.events / steady >= TARGET_RATE if steady > 0 else False
    rows = [
        f"Input: {full.alerts:,} alert payloads + {full.spans:,} spans = {full.events:,} events "
        f"in {full.lines:,} lines ({full.hours:.1f} h of event time, "
        f"{full.alerts / full.events:.0%} alerts).",
        "",
        "| run | wall s | events/s | alerts/s | CPU s | CPU µs/event | target | met |",
        "|---|---:|---:|---:|---:|---:|---|---|",
        f"| start-up and shutdown (1 alert, 1 trace) | {tiny.wall_s:.1f} | — | — | "
        f"{tiny.cpu_s:.1f} | — | — | |",
        f"| whole process | {full.wall_s:.1f} | {rate(full.events, full.wall_s)} | "
        f"{rate(full.alerts, full.wall_s)} | {full.cpu_s:.1f} | "
        f"{full.cpu_s / full.events * 1e6:.1f} | — | |",
        f"| whole process minus start-up | {steady:.1f} | {rate(full.events, steady)} | "
        f"{rate(full.alerts, steady)} | {full.cpu_s - tiny.cpu_s:.1f} | "
        f"{(full.cpu_s - tiny.cpu_s) / full.events * 1e6:.1f} | ≥ 10,000 events/s | "
        f"{_met(ok)} |",
        "",
        "Outputs: " + (", ".join(f"{k} {v:,}" for k, v in full.outputs.items()) or "none")
        + f" lines, {full.output_mb:,.0f} MB"
        + f" ({full.opened:,} incident_opened notifications for {full.opened_ids:,} distinct "
        "incidents)"
        + f". In-job latency (source read → sink, stats file): p50 {full.p50_ms:,.1f} ms, "
        f"p99 {full.p99_ms:,.1f} ms, max {full.max_ms:,.0f} ms. No passthrough reference: "
        "`alertflow run` has no decode-only option.",
    ]
    if full.error and not math.isnan(full.reached_h):
        share = min(1.0, full.reached_h / full.hours) if full.hours else math.nan
        rows += ["", f"**The run {full.error}**: its newest output was at {full.reached_h:.1f} h "
                 f"of {full.hours:.1f} h of event time, i.e. about {share:.0%} of the input, "
                 f"~{share * full.events / full.wall_s:,.0f} events/s. The rows above count the "
                 "whole input and overstate the rate."]
    elif full.error:
        rows += ["", f"**The run failed** (rc {full.rc}): {full.error.strip()[-600:]}"]
    return "\n".join(rows)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.correlation_scale",
                                     description=__doc__.split("\n\n")[0])
    defaults = Estate()
    parser.add_argument("--events", type=int, default=100_000, help="part 1's stream")
    parser.add_argument("--repeats", "-r", type=int, default=5)
    parser.add_argument("--memory-hours", type=float, default=72.0)
    parser.add_argument("--memory-clusters", type=int, default=3)
    parser.add_argument("--checkpoints", type=int, default=12)
    parser.add_argument("--product-events", type=int, default=300_000)
    parser.add_argument("--product-timeout-s", type=float, default=150.0)
    parser.add_argument("--parts", default="cost,memory,product,open")
    parser.add_argument("--open-incidents", type=int, default=1000, help="part 4")
    parser.add_argument("--open-events", type=int, default=5000, help="part 4's alerts")
    parser.add_argument("--open-evidence", type=int, default=0, help="part 4's waiting anomalies")
    for name in ("clusters", "services", "pods", "fault_every_s", "resend_s", "noise_per_h",
                 "flaps_per_h", "traces_per_s", "seed"):
        value = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    parser.add_argument("--profile", action="store_true", help="print the correlator's hotspots")
    parser.add_argument("--record", action="store_true", help="append to BENCHMARKS.md")
    if "--quick" in argv:  # smaller defaults; explicit options still win
        parser.set_defaults(events=40_000, repeats=3, open_incidents=200, open_events=1000,
                            memory_hours=16.0, memory_clusters=2,
                            checkpoints=8, product_events=60_000, product_timeout_s=40.0)
    args = parser.parse_args(argv)
    estate = Estate(**{k: getattr(args, k) for k in Estate.__dataclass_fields__})
    parts = {p.strip() for p in args.parts.split(",")}
    started = time.monotonic()
    sections = [
        f"Estate: {estate.clusters} clusters of {estate.services} services ({estate.pods} pods), "
        f"per cluster a fault every {estate.fault_every_s:g} s on average, "
        f"{estate.noise_per_h:g} noise and {estate.flaps_per_h:g} flapping alerts/h, "
        f"{estate.traces_per_s:g} traces/s; re-sends every {estate.resend_s} s; seed "
        f"{estate.seed}. Correlation settings: the defaults.",
    ]
    if "cost" in parts:
        print("part 1: in-process cost", file=sys.stderr, flush=True)
        cost = measure_cost(estate, args.events, args.repeats, args.profile)
        sections += ["", "#### 1. In-process cost per event", "", cost_table(cost, args.repeats)]
    if "memory" in parts:
        print("part 2: bounded state", file=sys.stderr, flush=True)
        long = replace(estate, clusters=args.memory_clusters)
        points = measure_memory(long, args.memory_hours, args.checkpoints)
        sections += ["", "#### 2. State over a long stream", "", memory_table(points, long)]
    if "product" in parts:
        print("part 3: alertflow run", file=sys.stderr, flush=True)
        tiny, full = measure_product(estate, args.product_events, args.product_timeout_s)
        sections += ["", "#### 3. Through `alertflow run`", "", product_table(tiny, full)]
    if "open" in parts:
        print("part 4: many open incidents", file=sys.stderr, flush=True)
        res = measure_open(args.open_incidents, args.open_events, args.repeats, GroupByReference,
                           args.open_evidence)  # fmt: skip
        sections += ["", "#### 4. Cost per alert with many incidents open", "",
                     open_table(res, args.repeats)]  # fmt: skip
    body = "\n".join(sections)
    print()
    print(body)
    if args.quick:
        print("\n--quick is a smoke run: small inputs, few repetitions; do not record it.")
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.record:
        now = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        record(
            SECTION,
            f"\n### Correlation at scale, {now}\n\n"
            f"Command: `{command_line('-m', ['bench.correlation_scale', *argv])}`  \n"
            f"Machine: {machine('bytewax')}  \n"
            f"Revision: {revision()}\n\n{body}\n",
        )
        print("appended to BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
