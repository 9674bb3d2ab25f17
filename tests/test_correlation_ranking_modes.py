"""Issue 10, failure modes 5, 6 and 7: a hand-made graph and alert sequence each, the
expected incident and its ranking. Helpers are those of ``test_correlation_table``.
"""

import pytest
from alertflow.operators.correlation.rootcause import EVIDENCE_FOR

from tests.test_correlation_table import CHAIN, alert, anomaly, correlate, latest


def ranking(events, edges=CHAIN) -> list[str]:
    (incident,) = latest(correlate(events, edges))
    return [c.service for c in incident.root_causes]


@pytest.mark.parametrize(
    ("events", "first"),
    [
        pytest.param(
            [alert("1", "api", 0), alert("2", "web", 30), alert("3", "db", 400)],
            "db",
            id="5-a-root-alerting-after-a-long-for-still-leads",
        ),
        pytest.param(
            [
                alert("1", "api", 0),
                alert("2", "web", 30),
                anomaly("db", 380),
                alert("3", "db", 400),
            ],
            "api",
            id="5-a-dependency-whose-metrics-turned-only-later-explains-nothing",
        ),
        pytest.param(
            [
                anomaly("x", 0, score=1.0, value=1.0, expected=0.0),
                alert("1", "x", 0),
                anomaly("y", 0, score=0.8, value=2.5, expected=0.2),
                alert("2", "y", 0),
            ],
            "y",
            id="6-weak-evidence-against-an-expected-0-does-not-outweigh-strong-evidence",
        ),
        pytest.param(
            [anomaly("db", -30, score=0.95, value=2.5, expected=0.2), alert("1", "api", 0)],
            "db",
            id="6-strong-evidence-below-an-alert-still-points-at-the-cause",
        ),
        pytest.param(
            [alert("1", "x", 0), alert("2", "y", 0), alert("3", "y", 10, name="YSlow")],
            "y",
            id="7-a-tie-goes-to-the-service-with-more-evidence",
        ),
    ],
)
def test_ranking_modes(events, first):
    edges = CHAIN if "x" not in {e.labels.get("service") for e in events} else ()
    assert ranking(events, edges)[0] == first


def test_7_every_service_is_ranked_and_the_first_few_carry_evidence():
    events = [alert(str(i), f"s{i}", 10 * i) for i in range(12)]
    (incident,) = latest(correlate(events))  # no graph: time alone groups them
    assert sorted(c.service for c in incident.root_causes) == sorted(f"s{i}" for i in range(12))
    assert all(c.evidence for c in incident.root_causes[:EVIDENCE_FOR])
    assert not any(c.evidence for c in incident.root_causes[EVIDENCE_FOR:])
