"""Issue 10, failure modes 1 and 4: two faults overlapping on the same services stay apart.

A second fault starts minutes into a first one, on a dependency beside it, and its alerts
are a new kind (errors) on services already alerting for the first (latency). The metrics
show a second root: a dependency that turned anomalous after the first fault's causes and
before the new alerts. Each row is a hand-made graph and alert sequence with the expected
incidents (sorted member alert ids) and the top cause of the one holding the last alert.
Helpers are those of ``test_correlation_table``.
"""

import pytest

from tests.test_correlation_table import alert, anomaly, correlate, latest

# web calls api; api calls db and queue: two possible roots below api.
BESIDE = [("web", "api"), ("api", "db"), ("api", "queue")]

LAT, ERR = "HighRequestLatency", "HighErrorRate"
FIRST = [
    anomaly("db", -30),
    alert("1", "api", 30, name=LAT),
    alert("2", "web", 60, name=LAT),
    alert("3", "db", 90, name=LAT),
]
SECOND = [
    alert("4", "api", 450, name=ERR),
    alert("5", "web", 470, name=ERR),
    alert("6", "queue", 500, name=ERR),
]


def alerts_of(decisions) -> list[list[str]]:
    """Each live incident's alert ids, sorted."""
    return sorted(
        sorted(m.id for m in i.members if m.kind == "alert")
        for i in latest(decisions)
        if i.status != "merged"
    )


@pytest.mark.parametrize(
    ("events", "expected", "cause", "overrides"),
    [
        pytest.param(
            [*FIRST, anomaly("queue", 400, name="error_ratio"), *SECOND],
            [["1", "2", "3"], ["4", "5", "6"]],
            "queue",
            {},
            id="a-new-wave-with-a-fresh-root-below-opens-its-own-incident",
        ),
        pytest.param(
            [*FIRST, anomaly("queue", 400, name="error_ratio"), *SECOND],
            [["1", "2", "3", "4", "5", "6"]],
            "db",
            {"split": False},
            id="split-off-keeps-the-old-behaviour-one-incident",
        ),
        pytest.param(
            [*FIRST, *SECOND[:2]],
            [["1", "2", "3", "4", "5"]],
            "db",
            {},
            id="a-new-kind-with-nothing-fresh-below-is-more-of-the-same-fault",
        ),
        pytest.param(
            [*FIRST, anomaly("queue", 400, name="error_ratio"), alert("4", "web", 450, name=LAT)],
            [["1", "2", "3", "4"]],
            "db",
            {},
            id="a-kind-the-fault-already-shows-stays-whatever-is-below",
        ),
        pytest.param(
            [
                anomaly("api", -20),
                alert("1", "api", 0),
                anomaly("queue", 250),
                alert("2", "queue", 300),
            ],
            [["1"], ["2"]],
            "queue",
            {},
            id="a-dependency-its-metrics-date-after-the-cause-is-a-fault-of-its-own",
        ),
        pytest.param(
            [
                anomaly("api", -20),
                alert("1", "api", 0),
                anomaly("queue", 250),
                alert("2", "queue", 300),
            ],
            [["1", "2"]],
            "api",  # joined, but ranked below the cause its metrics say came first
            {"split": False},
            id="split-off-the-for-tolerance-lets-that-dependency-join-as-cause",
        ),
        pytest.param(
            [
                anomaly("queue", -60),
                anomaly("api", -20),
                alert("1", "api", 0),
                alert("2", "queue", 300),
            ],
            [["1", "2"]],
            "queue",
            {},
            id="a-dependency-anomalous-first-alerting-late-is-the-cause-a-long-for",
        ),
    ],
)
def test_overlapping_faults(events, expected, cause, overrides):
    decisions = correlate(events, BESIDE, **{"lateness_s": 0.0, **overrides})
    assert alerts_of(decisions) == expected
    last = events[-1].fingerprint
    (holder,) = [i for i in latest(decisions) if last in {m.id for m in i.members}]
    assert holder.root_causes[0].service == cause
