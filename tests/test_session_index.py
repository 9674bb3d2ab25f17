"""The session index changes what a lookup costs, never which incident it finds.

Hypothesis draws one domain's alerts and anomalies over a small graph (two separate
parts and a service the graph does not know: ``test_correlation_properties``); the
correlator with the index and one scanning every open incident must decide the same.
"""

from dataclasses import replace

from alertflow.operators.correlation.correlator import DomainCorrelator
from hypothesis import given

from tests.test_correlation_properties import (
    EDGES,
    PROPERTY,
    WALL,
    domain_events,
    event_ns,
    incident_settings,
)
from tests.test_correlation_table import alert


def decide(events, session_index: bool) -> list[tuple[str, str, bytes]]:
    settings = replace(incident_settings(60), session_index=session_index)
    correlator = DomainCorrelator("c", settings, static_edges=EDGES)
    out = []
    for event in sorted(events, key=event_ns):
        out.extend(correlator.on_events([event], WALL))
    out.extend(correlator.finish(WALL))
    return [(d.stream, d.key, d.encode()) for d in out]


@PROPERTY
@given(events=domain_events())
def test_the_index_finds_what_a_scan_finds(events):
    assert decide(events, True) == decide(events, False)


def test_the_index_skips_incidents_nothing_relates():
    settings = replace(incident_settings(0), session_index=True)
    correlator = DomainCorrelator("c", settings, static_edges=EDGES)
    grouper = correlator.grouper
    for event in (alert("1", "db", 0), alert("2", "queue", 10)):
        correlator.on_events([event], WALL)
    newcomer = next(m for i in grouper.incidents.values() for m in i.members.values())
    found = grouper._candidates(newcomer)
    assert len(grouper.incidents) == 2 and len(found) == 1
