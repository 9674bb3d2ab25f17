"""Issue 10, failure modes 1 and 4: a second root told apart by its metrics' level change.

A second fault starts ten minutes into a first one, on a dependency beside it; its alerts
fire on services that call the first fault's cause, so by topology and timing they are that
fault's symptoms. The level book (5-minute buckets per series, fed as ``LevelSignal``)
dates each series' move against its own hour before: a series that first moved well after
the first fault began, on a service the incident's alerts do not cover, is a second root.
Each row: a hand-made graph, alerts, level buckets -> expected incidents (sorted alert
ids) and the top cause of the incident holding the last alert. Helpers are those of
``test_correlation_table``.
"""

import pytest
from alertflow.operators.correlation.incident_split import LevelSplit, level_second_root
from alertflow.operators.correlation.rank_levels import LevelBook, LevelSignal
from alertflow.operators.correlation.topology import ServiceGraph

from tests.test_correlation_split import alerts_of
from tests.test_correlation_table import T0, S, alert, correlate, latest

BESIDE = [("web", "api"), ("api", "db"), ("api", "queue")]  # web -> api -> {db, queue}
BUCKET = 300
LAT, ERR = "HighRequestLatency", "HighErrorRate"


def level(service: str, moved_at: int | None, name: str = "latency", until: int = 1500):
    """An hour of a steady series (mean 1.0, sd 0.1), then buckets to ``until`` (seconds
    from T0); from the bucket holding ``moved_at`` on, the mean is 3.0."""
    out = []
    first = (T0 // S - 3600) // BUCKET
    for bucket in range(first, (T0 // S + until) // BUCKET):
        start = bucket * BUCKET - T0 // S
        mean = 3.0 if moved_at is not None and start >= moved_at - moved_at % BUCKET else 1.0
        # 10 samples per bucket, half at mean - 0.1, half at mean + 0.1: sd 0.1.
        squares = 5 * (mean - 0.1) ** 2 + 5 * (mean + 0.1) ** 2
        labels = {"service": service, "cluster": "c"}
        series = f'{name}{{service="{service}"}}'
        out.append(LevelSignal(series, labels, bucket, float(BUCKET), 10.0, 10 * mean, squares))
    return out


FIRST = [alert("1", "db", 60, name=LAT), alert("2", "api", 90, name=LAT),
         alert("3", "web", 240, name=LAT)]  # fmt: skip
# The second fault (from 350 s) alerts after its onset's bucket (300-600 s) closed, within
# the session gap of the first fault's last alert.
SECOND = [alert("4", "api", 650, name=ERR), alert("5", "web", 670, name=ERR)]
BOTH = [*level("db", 0), *level("api", 0), *level("web", 0)]
ON = {"level_split_lag_s": 240.0}  # on by default (z 5, callers off, re-fires on)
OFF = {"level_split": False}


@pytest.mark.parametrize(
    ("events", "expected", "overrides"),
    [
        pytest.param(
            [*BOTH, *level("queue", 350), *FIRST, *SECOND],
            [["1", "2", "3"], ["4", "5"]],
            ON,
            id="a-dependency-that-moved-ten-minutes-later-is-a-second-root",
        ),
        pytest.param(
            [*BOTH, *level("queue", 350), *FIRST, *SECOND],
            [["1", "2", "3", "4", "5"]],
            OFF,
            id="off-one-incident-as-before",
        ),
        pytest.param(
            [*BOTH, *level("queue", 0), *FIRST, *SECOND],
            [["1", "2", "3", "4", "5"]],
            ON,
            id="a-dependency-that-moved-with-the-fault-is-the-same-fault",
        ),
        pytest.param(
            [*BOTH, *level("queue", 350), *FIRST, *SECOND],
            [["1", "2", "3", "4", "5"]],
            {**ON, "level_split_lag_s": 600.0},
            id="a-move-within-the-lag-may-be-propagation-and-joins",
        ),
        pytest.param(
            [*BOTH, *FIRST, *SECOND],
            [["1", "2", "3", "4", "5"]],
            ON,
            id="nothing-moved-below-more-of-the-same-fault",
        ),
        pytest.param(
            [*FIRST, *SECOND],
            [["1", "2", "3", "4", "5"]],
            ON,
            id="a-cold-estate-without-levels-groups-as-before",
        ),
        pytest.param(
            [
                *level("db", 0),
                *level("api", 0),
                *level("web", 0, name="errors"),
                *level("web", 350),
                *FIRST,
                alert("5", "web", 670, name=ERR),
            ],
            [["1", "2", "3", "5"]],
            ON,
            id="a-service-with-one-series-moved-by-the-fault-is-not-fresh",
        ),
    ],
)
def test_level_second_root(events, expected, overrides):
    decisions = correlate(events, BESIDE, **{"lateness_s": 0.0, **overrides})
    assert alerts_of(decisions) == expected


def test_the_first_fault_keeps_its_cause_and_the_second_gets_its_own_incident():
    events = [*BOTH, *level("queue", 350), *FIRST, *SECOND]
    incidents = [i for i in latest(correlate(events, BESIDE, lateness_s=0.0, **ON))]
    first = next(i for i in incidents if "1" in {m.id for m in i.members})
    assert first.root_causes[0].service == "db"
    second = next(i for i in incidents if "4" in {m.id for m in i.members})
    assert "db" not in {m.id for m in second.members}


def _book(events) -> LevelBook:
    book = LevelBook(float(BUCKET))
    for e in events:
        book.add_signal(e)
    return book


GRAPH = ServiceGraph()
GRAPH.add_static(BESIDE)


@pytest.mark.parametrize(
    ("moved", "callers", "expected"),
    [
        ({"queue": 350}, True, "queue"),
        ({"queue": 350}, False, "queue"),  # queue does not call db: not its symptom either way
        ({"api": 350}, True, "api"),  # only timing says the caller is not db's symptom
        ({"api": 350}, False, None),  # direction first: a caller of the cause may be its symptom
        ({"queue": 0}, True, None),
        ({}, True, None),
    ],
)
def test_level_second_root_direction_and_timing(moved, callers, expected):
    book = _book([*level("db", 0)] + [e for s, t in moved.items() for e in level(s, t)])
    split = LevelSplit(z=4.0, lag_s=240.0, callers=callers)
    found = level_second_root(
        "api", T0 + 650 * S, {"db": T0 + 60 * S}, GRAPH, book, split,
        hops=2, effect_hops=4, cause_lag_ns=600 * S,
    )  # fmt: skip
    assert found == expected


# The first fault's error alert on api fires, resolves, then fires again ten minutes in:
# its new episode comes with the second fault (queue moved from 350 s).
REFIRE = [
    alert("4", "api", 100, name=ERR),
    alert("4", "api", 100, status="resolved", end=200, name=ERR),
    alert("4", "api", 650, name=ERR),
]


@pytest.mark.parametrize(
    ("events", "expected", "overrides"),
    [
        pytest.param(
            [*BOTH, *level("queue", 350), *FIRST, *REFIRE],
            [["1", "2", "3"], ["4"]],
            ON,
            id="a-re-fire-a-fresh-root-explains-leaves-for-its-own-incident",
        ),
        pytest.param(
            [*BOTH, *level("queue", 350), *FIRST, *REFIRE],
            [["1", "2", "3", "4"]],
            {**ON, "level_split_refires": False},
            id="re-fires-off-it-stays",
        ),
        pytest.param(
            [*BOTH, *level("queue", 0), *FIRST, *REFIRE],
            [["1", "2", "3", "4"]],
            ON,
            id="a-re-fire-with-nothing-fresh-below-stays",
        ),
    ],
)
def test_re_fired_alert_of_a_second_fault(events, expected, overrides):
    decisions = correlate(events, BESIDE, **{"lateness_s": 0.0, **overrides})
    assert alerts_of(decisions) == expected


def test_a_moved_alert_is_recorded_as_a_version_of_the_incident_it_left():
    events = [*BOTH, *level("queue", 350), *FIRST, *REFIRE]
    decisions = correlate(events, BESIDE, lateness_s=0.0, **ON)
    first = next(i.incident_id for i in latest(decisions) if "1" in {m.id for m in i.members})
    versions = [d.record for d in decisions if d.stream == "incidents"]
    held = [("4" in {m.id for m in v.members}) for v in versions if v.incident_id == first]
    assert True in held and held[-1] is False  # it was there, and the last version lacks it
