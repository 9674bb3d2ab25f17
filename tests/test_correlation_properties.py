"""Correlation does not depend on arrival order within the lateness bound, and keeps its rules.

The inputs are one domain's alerts (firing, re-sent, resolved, re-fired) and anomaly
signals over a small static call graph with one service the graph does not know.
Wall time is fixed at 0 throughout, so only event time moves the watermarks: idle
wall time would advance them by however long a run happened to take.
"""

from collections import Counter
from dataclasses import dataclass, field

from alertflow.operators.correlation.anomaly_dedup import AnomalySignal
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.decisions import Decision
from alertflow.schemas.records import AlertEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

S = 10**9
T0 = 1_795_600_800 * S  # 2026-11-25T10:00:00Z
HORIZON_S = 3 * 3600
EDGES = [("web", "api"), ("api", "db"), ("api", "cache"), ("batch", "queue")]
SERVICES = ("web", "api", "db", "cache", "batch", "queue", "mystery")  # mystery: not in the graph
HUGE_LATENESS_S = 10**7  # longer than any input here: everything waits for finish()
WALL = 0

Event = AlertEvent | AnomalySignal

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def incident_settings(lateness_s: float) -> IncidentSettings:
    # Shorter than the defaults, so three hours of events exercise every lifecycle step.
    return IncidentSettings(
        session_gap_s=600,
        quiet_period_s=300,
        stale_after_s=3600,
        lateness_s=lateness_s,
        max_hops=2,
        notify_after_s=300,
        anomaly_hold_s=600,
    )


def event_ns(event: Event) -> int:
    return event.ts_ns if isinstance(event, AnomalySignal) else event.event_ns


# --------------------------------------------------------------------------- inputs


def alert(fp, status, labels, start_s, end_s=None, ref=""):
    return AlertEvent(
        fingerprint=fp,
        status=status,
        labels=dict(labels),
        annotations={"summary": f"{labels['alertname']} on {labels['service']}"},
        starts_ns=T0 + start_s * S,
        ends_ns=None if end_s is None else T0 + end_s * S,
        ref=ref,
    )


@st.composite
def alert_history(draw, index: int) -> list[AlertEvent]:
    """One fingerprint: episodes of firing (with re-sends) then maybe resolved (with re-sends).

    A fingerprint's labels never change (Alertmanager hashes them into it), and a re-send
    repeats its payload, so events that tie on the order key are the same event.
    """
    fp = f"fp{index}"
    labels = {
        "alertname": f"Alert{index}",
        "service": draw(st.sampled_from(SERVICES)),
        "severity": draw(st.sampled_from(("warning", "critical"))),
        "cluster": "c",
    }
    events: list[AlertEvent] = []
    start = draw(st.integers(0, HORIZON_S))
    for _ in range(draw(st.integers(1, 2))):
        for n in range(1 + draw(st.integers(0, 2))):
            events.append(alert(fp, "firing", labels, start, ref=f"{fp}:f{start}:{n}"))
        end = draw(st.none() | st.integers(start, start + 3600))
        if end is None:
            break
        for n in range(1 + draw(st.integers(0, 1))):
            events.append(alert(fp, "resolved", labels, start, end, ref=f"{fp}:r{end}:{n}"))
        start = end + draw(st.integers(1, 3600))
    return events


@st.composite
def anomaly_history(draw, index: int) -> list[AnomalySignal]:
    """One anomalous series: a few samples, each judged anomalous with its own score."""
    service = draw(st.sampled_from(SERVICES))
    name = draw(st.sampled_from(("latency_p99", "error_ratio")))
    labels = {"service": service, "instance": f"i{index}", "cluster": "c"}
    series = f'{name}{{instance="i{index}",service="{service}"}}'
    out = []
    for t in draw(st.lists(st.integers(0, HORIZON_S), min_size=1, max_size=4, unique=True)):
        score = draw(st.integers(30, 100)) / 100
        out.append(
            AnomalySignal(
                series=series,
                name=name,
                labels=labels,
                ts_ns=T0 + t * S,
                value=10 * score,
                expected=1.0,
                score=score,
                severity="critical" if score >= 0.6 else "warning",
                detectors=("ensemble",),
                ref=f"anomalies:{index}:{t}",
            )
        )
    return out


@st.composite
def domain_events(draw) -> list[Event]:
    """A domain's alerts and anomaly signals, in event-time order."""
    events: list[Event] = []
    for i in range(draw(st.integers(1, 5))):
        events.extend(draw(alert_history(i)))
    for i in range(draw(st.integers(0, 4))):
        events.extend(draw(anomaly_history(i)))
    return sorted(events, key=event_ns)


@st.composite
def arrivals_within(draw, events: list[Event], lateness_ns: int) -> list[Event]:
    """An arrival order in which no event is later than the lateness bound.

    Event i arrives at ``t_i + d_i`` with ``0 <= d_i < L``. When e arrives, the order
    buffer's watermark is ``max(t_f) - L`` over the events f that arrived up to and
    including e (wall time is fixed, so it adds nothing). Each such f has
    ``t_f + d_f <= t_e + d_e``, so ``t_f <= t_e + d_e - d_f <= t_e + d_e < t_e + L``,
    hence the watermark is ``< t_e``: e is still held when it arrives. The watermark
    never decreases, so everything released before e arrived had an event time
    ``<= watermark < t_e``: the buffer releases all events in (event time, key) order,
    whatever the interleaving. Equal arrival instants are broken at random.
    """
    keyed = [
        (event_ns(e) + draw(st.integers(0, lateness_ns - 1)), draw(st.integers(0, 7)), i, e)
        for i, e in enumerate(events)
    ]
    return [e for *_, e in sorted(keyed, key=lambda row: row[:3])]


# --------------------------------------------------------------------------- running it


@dataclass
class Run:
    """What came out of a correlator, with its state checked after every step."""

    correlator: DomainCorrelator
    decisions: list[Decision] = field(default_factory=list)

    def encoded(self) -> list[tuple[str, str, bytes]]:
        return [(d.stream, d.key, d.encode()) for d in self.decisions]


def correlator(lateness_s: float) -> DomainCorrelator:
    return DomainCorrelator("c", incident_settings(lateness_s), static_edges=EDGES)


def replay(events, lateness_s, batches=None, ticks=None, check=None) -> Run:
    """Feed events in the given order, in batches, with engine ticks between some of them."""
    run = Run(correlator(lateness_s))
    cuts = batches or [1] * len(events)
    i = 0
    for n, size in enumerate(cuts):
        run.decisions.extend(run.correlator.on_events(list(events[i : i + size]), WALL))
        i += size
        if ticks and ticks[n % len(ticks)]:
            run.decisions.extend(run.correlator.on_tick(WALL))
        if check:
            check(run)
    assert i >= len(events)
    run.decisions.extend(run.correlator.finish(WALL))
    if check:
        check(run)
    return run


def reference(events) -> list[tuple[str, str, bytes]]:
    """Everything held to the end, then applied in event-time order: the batch answer."""
    return replay(events, HUGE_LATENESS_S, batches=[len(events)]).encoded()


batch_sizes = st.lists(st.integers(1, 6), min_size=1, max_size=60)


def cover(sizes: list[int], total: int) -> list[int]:
    """Batch sizes that cover ``total`` events: the drawn ones, repeated as needed."""
    out, covered = [], 0
    while covered < total:
        size = sizes[len(out) % len(sizes)]
        out.append(size)
        covered += size
    return out


# --------------------------------------------------------------------------- (a), (b)


@PROPERTY
@given(data=st.data(), events=domain_events(), lateness_s=st.integers(1, 1800))
def test_any_interleaving_within_the_lateness_bound_gives_the_same_decisions(
    data, events, lateness_s
):
    arrival = data.draw(arrivals_within(events, lateness_s * S), label="arrival")
    sizes = cover(data.draw(batch_sizes, label="batches"), len(arrival))
    ticks = data.draw(st.lists(st.booleans(), min_size=1, max_size=8), label="ticks")
    got = replay(arrival, lateness_s, batches=sizes, ticks=ticks).encoded()
    assert got == reference(events)


@PROPERTY
@given(data=st.data(), events=domain_events())
def test_with_everything_held_to_the_end_any_permutation_gives_the_same_decisions(data, events):
    arrival = data.draw(st.permutations(events), label="arrival")
    sizes = cover(data.draw(batch_sizes, label="batches"), len(arrival))
    run = replay(arrival, HUGE_LATENESS_S, batches=sizes)
    assert run.encoded() == reference(events)


def test_the_reference_is_not_trivial():
    """The inputs above do make incidents and notifications (else equality proves little)."""
    labels = {"alertname": "Slow", "service": "db", "severity": "critical", "cluster": "c"}
    events = [alert("a", "firing", labels, 0), alert("a", "resolved", labels, 0, 60)]
    streams = Counter(stream for stream, _, _ in reference(events))
    assert streams == {"incidents": 3, "notifications": 2}  # open, updated, resolved


# --------------------------------------------------------------------------- (c)


class Invariants:
    """Checks the rules every output prefix and state must obey; call after every step."""

    def __init__(self) -> None:
        self.seen = 0
        self.versions: dict[str, dict[int, object]] = {}
        self.latest: dict[str, object] = {}
        self.resolved_at: dict[str, int] = {}

    def __call__(self, run: Run) -> None:
        for decision in run.decisions[self.seen :]:
            self._record(decision)
        self.seen = len(run.decisions)
        self._one_open_incident_per_fingerprint(run)

    def _record(self, decision: Decision) -> None:
        r = decision.record
        if decision.stream == "incidents":
            iid = r.incident_id
            assert iid not in self.resolved_at, f"{iid} updated after it resolved"
            emitted = self.versions.setdefault(iid, {})
            assert r.version == len(emitted) + 1, f"{iid}: version {r.version} after {emitted}"
            assert r.status in (("open",) if r.version == 1 else ("updated", "resolved"))
            emitted[r.version] = r
            self.latest[iid] = r
            if r.status == "resolved":
                self.resolved_at[iid] = r.version
        else:
            assert decision.stream == "notifications"
            emitted = self.versions.get(r.incident_id, {})
            assert r.incident_version in emitted, "notification of a version never emitted"
            if r.incident_id in self.resolved_at:
                assert r.kind == "incident_resolved"
                assert r.incident_version == self.resolved_at[r.incident_id]

    def _one_open_incident_per_fingerprint(self, run: Run) -> None:
        grouper = run.correlator.grouper
        in_state = Counter(fp for inc in grouper.incidents.values() for fp in inc.members)
        assert max(in_state.values(), default=0) <= 1
        assert grouper.by_fingerprint == {
            fp: iid for iid, inc in grouper.incidents.items() for fp in inc.members
        }
        in_output = Counter(
            m.id for r in self.latest.values() if r.status != "resolved" for m in r.members
        )
        assert max(in_output.values(), default=0) <= 1


def assert_memory_is_bounded(run: Run) -> None:
    """After finish(), only incidents with a member still firing are kept."""
    c = run.correlator
    assert len(c.order) == 0
    for incident in c.grouper.incidents.values():
        assert any(m.status == "firing" for m in incident.members.values()), incident
    assert set(c.grouper.by_fingerprint) == {
        fp for inc in c.grouper.incidents.values() for fp in inc.members
    }


@PROPERTY
@given(data=st.data(), events=domain_events(), lateness_s=st.integers(1, 1800))
def test_invariants_hold_within_the_lateness_bound(data, events, lateness_s):
    arrival = data.draw(arrivals_within(events, lateness_s * S), label="arrival")
    sizes = cover(data.draw(batch_sizes, label="batches"), len(arrival))
    invariants = Invariants()
    run = replay(arrival, lateness_s, batches=sizes, ticks=[True], check=invariants)
    assert_memory_is_bounded(run)
    # Whatever resolved in the output was evicted; whatever stayed open is still held.
    still_open = {iid for iid, r in invariants.latest.items() if r.status != "resolved"}
    recorded = set(invariants.latest)
    assert recorded & set(run.correlator.grouper.incidents) == still_open


@PROPERTY
@given(
    data=st.data(),
    events=domain_events(),
    lateness_s=st.sampled_from([0, 1, 60, 600]),
)
def test_late_events_keep_fingerprints_apart_and_memory_bounded(data, events, lateness_s):
    """Arrival in any order at all: late events are applied at once, in arrival order.

    Version numbering is not checked here: a late re-send can reopen an evicted incident
    under its old id (see ``test_a_late_resend_after_eviction_reuses_record_ids``).
    """
    arrival = data.draw(st.permutations(events), label="arrival")
    run = Run(correlator(lateness_s))
    for event in arrival:
        run.decisions.extend(run.correlator.on_events([event], WALL))
        grouper = run.correlator.grouper
        members = Counter(fp for inc in grouper.incidents.values() for fp in inc.members)
        assert max(members.values(), default=0) <= 1
    run.decisions.extend(run.correlator.finish(WALL))
    assert_memory_is_bounded(run)


# --------------------------------------------------------------------------- found bugs


def _statuses(decisions):
    return [
        (d.stream, d.record.id, d.record.incident_id, getattr(d.record, "status", None))
        for d in decisions
    ]


def test_an_alert_revived_after_expiry_gets_new_record_ids():
    labels = {"alertname": "DiskFull", "service": "db", "severity": "critical", "cluster": "c"}
    other = {"alertname": "QueueLag", "service": "queue", "severity": "warning", "cluster": "c"}
    c = DomainCorrelator("c", IncidentSettings(lateness_s=60), static_edges=EDGES)
    out = c.on_events([alert("long", "firing", labels, 0)], WALL)
    # Five hours later, in another part of the graph, alerts move the domain's event time;
    # Alertmanager keeps re-sending the DiskFull alert (same startsAt) all along.
    out += c.on_events(
        [alert("q1", "firing", other, 5 * 3600), alert("q2", "firing", other, 5 * 3600 + 120)],
        WALL,
    )
    out += c.on_events([alert("long", "firing", labels, 0, ref="resend")], WALL)
    # Five hours without a re-send is past stale_after_s (4 h): the alert expired, by design.
    # Its revival is a new lifecycle, so no record id repeats.
    ids = [d.record.id for d in out]
    assert len(ids) == len(set(ids)), "record ids repeat: consumers drop the second lifecycle"


def test_a_late_resend_after_its_incident_closed_changes_nothing():
    labels = {"alertname": "Slow", "service": "db", "severity": "critical", "cluster": "c"}
    other = {"alertname": "Lag", "service": "queue", "severity": "warning", "cluster": "c"}
    c = DomainCorrelator("c", IncidentSettings(lateness_s=60), static_edges=EDGES)
    out = c.on_events([alert("a", "firing", labels, 0), alert("a", "resolved", labels, 0, 100)], 0)
    out += c.on_events([alert("z", "firing", other, 2000), alert("y", "firing", other, 2100)], 0)
    assert "a" not in c.grouper.by_fingerprint  # its incident has closed
    assert "resolved" in [d.record.status for d in out if d.stream == "incidents"]
    out += c.on_events([alert("a", "firing", labels, 0, ref="late-resend")], 0)
    ids = [d.record.id for d in out]
    assert len(ids) == len(set(ids)), _statuses(out)


def test_late_copies_of_an_earlier_episode_open_nothing_after_a_later_one_closed():
    # Found by bench/correlation_scale.py: a flapping alert's first episode kept being
    # re-opened under its old id once its second episode had closed.
    labels = {"alertname": "Errors", "service": "db", "severity": "critical", "cluster": "c"}
    other = {"alertname": "Lag", "service": "queue", "severity": "warning", "cluster": "c"}
    c = DomainCorrelator("c", IncidentSettings(lateness_s=60), static_edges=EDGES)
    out = c.on_events([alert("a", "firing", labels, 0), alert("a", "resolved", labels, 0, 100)], 0)
    out += c.on_events(
        [
            alert("w", "firing", other, 700),  # moves time on: the first episode's incident closes
            alert("a", "firing", labels, 1000),
            alert("a", "resolved", labels, 1000, 1100),
        ],
        0,
    )
    out += c.on_events([alert("z", "firing", other, 3000), alert("y", "firing", other, 3100)], 0)
    for ref in ("copy-1", "copy-2"):
        out += c.on_events([alert("a", "firing", labels, 0, ref=ref)], 0)
        out += c.on_events([alert("x", "firing", other, 3200)], 0)
    ids = [d.record.id for d in out]
    assert len(ids) == len(set(ids)), _statuses(out)
    opened = [
        d.record.incident_id
        for d in out
        if d.stream == "notifications" and d.record.kind == "incident_opened"
    ]
    assert len(opened) == len(set(opened))


def test_a_notification_agrees_with_the_version_it_names():
    def signal(service, t, score):
        return AnomalySignal(
            f'latency{{service="{service}"}}', "latency", {"service": service}, T0 + t * S,
            2.0, 1.0, score, "critical" if score >= 0.6 else "warning", ("ensemble",),
        )  # fmt: skip

    c = DomainCorrelator("c", IncidentSettings(lateness_s=0), static_edges=EDGES)
    out = c.on_events([signal("db", 0, 0.5), signal("api", 10, 0.5), signal("db", 20, 0.9)], 0)
    out += c.on_tick(0)
    versions = {
        (d.record.incident_id, d.record.version): d.record for d in out if d.stream == "incidents"
    }
    for note in (d.record for d in out if d.stream == "notifications"):
        version = versions[(note.incident_id, note.incident_version)]
        assert note.severity == version.severity
