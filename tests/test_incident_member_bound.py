"""Issue 10, scale: members per incident are bounded; the strongest and earliest are kept."""

import pytest

from tests.test_correlation_table import CHAIN, alert, anomaly, correlate, latest


@pytest.mark.parametrize(
    ("events", "bound", "listed", "omitted"),
    [
        pytest.param(
            [alert("1", "db", 0), alert("2", "api", 30), alert("3", "web", 60)],
            2,
            {"1", "2"},
            1,
            id="alerts-past-the-bound-are-counted-not-listed",
        ),
        pytest.param(
            [
                alert("1", "db", 0),
                alert("1", "db", 0),  # a re-send of a listed alert: not a member again
                alert("2", "api", 30),
                alert("3", "web", 60),
                alert("3", "web", 60),  # a re-send of an omitted one: counted once
            ],
            2,
            {"1", "2"},
            1,
            id="re-sends-are-counted-once",
        ),
        pytest.param(
            [
                anomaly("db", 0, score=0.5),
                anomaly("api", 5, score=0.95),
                alert("1", "db", 10),
                alert("2", "api", 30),
            ],
            3,
            {"1", "2", 'anomaly:latency_p99{service="api"}'},
            1,
            id="an-alert-replaces-the-weakest-evidence",
        ),
    ],
)
def test_members_are_bounded(events, bound, listed, omitted):
    (incident,) = latest(correlate(events, CHAIN, max_members=bound))
    assert {m.id for m in incident.members} == listed
    assert incident.members_omitted == omitted
