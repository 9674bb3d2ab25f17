"""Indexed evidence gathering decides exactly what the scan of all waiting evidence did.

Hypothesis draws one domain's alerts and anomalies (``test_correlation_properties``) plus
anomalies about nodes (no service), on services near and far in the graph and on one it
does not know; a correlator whose evidence is an :class:`EvidencePool` and one running
the scanning ``_gather`` and ``_first_signs`` as they were must emit the same bytes, with
``max_members`` small enough for evictions too.
"""

import pickle
import types
from collections import OrderedDict
from dataclasses import replace

import pytest
from alertflow.operators.correlation.anomaly_dedup import AnomalySignal, apply_anomaly
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.evidence_pool import EvidencePool, first_signs
from alertflow.schemas.timefmt import NS_PER_S
from hypothesis import given
from hypothesis import strategies as st

from tests.test_correlation_properties import (
    EDGES,
    HORIZON_S,
    PROPERTY,
    SERVICES,
    T0,
    WALL,
    domain_events,
    event_ns,
    incident_settings,
)

S = 10**9


def scanning_gather(self, incident):
    """``IncidentGrouper._gather`` before the pool: every waiting member, every pass."""
    gap_ns = int(self.settings.session_gap_s * NS_PER_S)
    found = True
    while found and self.evidence:
        found = False
        for fingerprint, member in list(self.evidence.items()):
            early = member.last_ns < incident.opened_ns - gap_ns
            late = member.first_ns > incident.last_onset_ns + gap_ns
            if early or late or self._placement(member, incident) is None:
                continue
            del self.evidence[fingerprint]
            self._attach(incident, member)
            found = True


def scanning_first_signs(self, incident, at_ns):
    """``SessionChoice._first_signs`` before the pool (without its per-newcomer cache)."""
    settings = self.settings
    since = at_ns - int((settings.session_gap_s + settings.cause_lag_s) * NS_PER_S)
    firsts = {}
    for m in [*self.evidence.values(), *incident.members.values()]:
        if m.kind == "anomaly" and m.service and m.first_ns >= since:
            firsts[m.service] = min(firsts.get(m.service, m.first_ns), m.first_ns)
    return firsts


def decide(events, max_members: int, pooled: bool) -> list[tuple[str, str, bytes]]:
    settings = replace(incident_settings(60), max_members=max_members)
    correlator = DomainCorrelator("c", settings, static_edges=EDGES)
    grouper = correlator.grouper
    assert isinstance(grouper.evidence, EvidencePool)
    if not pooled:
        grouper.evidence = OrderedDict()
        grouper._gather = types.MethodType(scanning_gather, grouper)
        grouper._first_signs = types.MethodType(scanning_first_signs, grouper)
    out = []
    for event in sorted(events, key=event_ns):
        out.extend(correlator.on_events([event], WALL))
    out.extend(correlator.finish(WALL))
    return [(d.stream, d.key, d.encode()) for d in out]


@st.composite
def node_anomalies(draw, index: int) -> list[AnomalySignal]:
    """A node's series (no service): related to an incident only through the node."""
    node = draw(st.sampled_from(("n1", "n2")))
    labels = {"node": node, "cluster": "c", "instance": f"node{index}"}
    times = draw(st.lists(st.integers(0, HORIZON_S), min_size=1, max_size=3, unique=True))
    return [
        AnomalySignal(series=f"node_load{{node={node},i={index}}}", name="node_load",
                      labels=labels, ts_ns=T0 + t * S, value=9.0, expected=1.0, score=0.9,
                      severity="critical", detectors=("ensemble",), ref=f"node:{index}:{t}")
        for t in times
    ]  # fmt: skip


@st.composite
def many_anomalies(draw) -> list[AnomalySignal]:
    """Up to a dozen series on the graph's services, for chains of gathering."""
    out = []
    for i in range(draw(st.integers(0, 12))):
        service = draw(st.sampled_from(SERVICES))
        t = draw(st.integers(0, HORIZON_S))
        labels = {"service": service, "cluster": "c", "instance": f"m{i}"}
        out.append(AnomalySignal(series=f"lat{{m{i}}}", name="latency_p99", labels=labels,
                                 ts_ns=T0 + t * S, value=5.0, expected=1.0, score=0.5,
                                 severity="warning", detectors=("ensemble",), ref=f"m{i}"))  # fmt: skip
    return out


@PROPERTY
@given(
    events=domain_events(),
    more=many_anomalies(),
    nodes=st.lists(st.integers(0, 3), max_size=2).flatmap(
        lambda ids: st.tuples(*(node_anomalies(i) for i in ids))
    ),
    max_members=st.sampled_from((2, 3, 500)),
)
def test_the_pool_gathers_what_a_scan_gathers(events, more, nodes, max_members):
    events = [*events, *more, *(a for ns in nodes for a in ns)]
    assert decide(events, max_members, True) == decide(events, max_members, False)


def test_the_pool_keeps_order_and_index_through_pickling():
    correlator = DomainCorrelator("c", incident_settings(0), static_edges=EDGES)
    for i, service in enumerate(("db", "queue", "db")):
        correlator.on_events([_anomaly(i, service)], WALL)  # related to nothing: they wait
    pool = correlator.grouper.evidence
    assert list(pool.by_service) == ["db", "queue"] and len(pool.by_service["db"]) == 2
    copy = pickle.loads(pickle.dumps(pool))
    assert list(copy) == list(pool) and copy.by_service == pool.by_service
    key, _ = copy.popitem(last=False)
    assert key not in copy.by_service["db"] and len(copy.order) == 2


def _anomaly(i: int, service: str) -> AnomalySignal:
    labels = {"service": service, "cluster": "c", "instance": f"p{i}"}
    return AnomalySignal(series=f"lat{{p{i}}}", name="latency_p99", labels=labels,
                         ts_ns=T0 + i * S, value=5.0, expected=1.0, score=0.5,
                         severity="warning", detectors=("ensemble",), ref=f"p{i}")  # fmt: skip


def _waiting(service, first_s):
    signal = AnomalySignal(series=f"{service}/latency", name="latency",
                           labels={"service": service, "__name__": "latency"},
                           ts_ns=first_s * NS_PER_S, value=2.0, expected=1.0, score=0.9,
                           severity="warning", detectors=("zscore",))  # fmt: skip
    return apply_anomaly(None, signal)[0]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("db", 100),  # waiting only
        ("api", 50),  # in the incident only
        ("cache", 60),  # both: the earlier
        ("web", None),  # neither
        ("old", None),  # waiting, but before since_ns
    ],
)
def test_first_signs_answer_as_the_scanned_dict_does(service, expected):
    waiting = [_waiting("db", 100), _waiting("cache", 70), _waiting("old", 5)]
    known = [_waiting("api", 50), _waiting("cache", 60)]
    pool = EvidencePool((m.fingerprint, m) for m in waiting)
    signs = first_signs(pool, 10 * NS_PER_S, known)
    scanned = first_signs(OrderedDict(pool), 10 * NS_PER_S, known)  # a snapshot's path
    first = None if expected is None else expected * NS_PER_S
    assert signs.get(service) == scanned.get(service) == first
    assert (service in signs) == (service in scanned) == (first is not None)
    assert signs.get(service, -1) == (-1 if first is None else first)
    if first is None:
        with pytest.raises(KeyError):
            signs[service]
    else:
        assert signs[service] == first
