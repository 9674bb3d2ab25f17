"""Issue 10, failure mode 4: order of arrival is not order of onset.

Alertmanager's group batching delivers a cause's alert minutes after its callers'.
With no reordering to hide behind (``lateness_s=0``), incidents its callers opened
apart must merge when the cause's alert connects them, and the absorbed incident's
last version must point at the survivor. Helpers are those of ``test_correlation_table``.
"""

import pytest
from alertflow.schemas.outputs import Incident, Notification

from tests.test_correlation_table import alert, anomaly, correlate, latest

# Two callers of one database, and a third service beside them.
SHARED_DB = [("shop", "db"), ("billing", "db"), ("shop", "search")]
# One caller of two services that share nothing below it.
SHARED_CALLER = [("web", "shop"), ("web", "billing")]


def live(decisions) -> list[Incident]:
    """The incidents not merged into another, last version each."""
    return [i for i in latest(decisions) if i.status != "merged"]


@pytest.mark.parametrize(
    ("edges", "events", "expected", "cause", "merged", "merge"),
    [
        pytest.param(
            SHARED_DB,
            [alert("1", "shop", 0), alert("2", "billing", 30), alert("3", "db", -20)],
            [["1", "2", "3"]],
            "db",
            1,
            True,
            id="a-cause-arriving-after-two-callers-merges-their-incidents",
        ),
        pytest.param(
            SHARED_DB,
            [alert("1", "shop", 0), alert("2", "billing", 30), alert("3", "db", 900)],
            [["1"], ["2"], ["3"]],
            None,
            0,
            True,
            id="a-dependency-starting-long-after-both-is-a-fault-of-its-own",
        ),
        pytest.param(
            SHARED_CALLER,
            [alert("1", "shop", 0), alert("2", "billing", 30), alert("3", "web", 60)],
            [["1"], ["2", "3"]],
            None,
            0,
            True,
            id="a-symptom-of-two-faults-connects-nothing",
        ),
        pytest.param(
            SHARED_DB,
            [alert("1", "shop", 0), alert("2", "billing", 30), alert("3", "db", -20)],
            [["1"], ["2", "3"]],
            None,
            0,
            False,
            id="merge-off-keeps-the-old-behaviour",
        ),
    ],
)
def test_incidents_merge_when_a_late_cause_connects_them(
    edges, events, expected, cause, merged, merge
):
    overrides = {"lateness_s": 0.0, "merge": merge}
    decisions = correlate(events, edges, **overrides)
    assert sorted(sorted(m.id for m in i.members) for i in live(decisions)) == expected
    absorbed = [i for i in latest(decisions) if i.status == "merged"]
    assert len(absorbed) == merged
    if cause is not None:
        (survivor,) = live(decisions)
        assert survivor.root_causes[0].service == cause
    for gone in absorbed:
        assert gone.members == [] and gone.merged_into in {i.incident_id for i in live(decisions)}


def test_merge_is_a_version_of_both_and_the_paged_part_hears_of_it():
    events = [
        alert("1", "shop", 0, severity="critical"),
        alert("2", "billing", 30, severity="critical"),
        alert("3", "db", -20),
    ]
    decisions = correlate(events, SHARED_DB, lateness_s=0.0)
    records = [d.record for d in decisions if d.stream == "incidents"]
    (gone,) = [r for r in records if r.status == "merged"]
    before = [r for r in records if r.incident_id == gone.incident_id and r.status != "merged"]
    assert gone.version == max(r.version for r in before) + 1  # a version of its own id
    survivor_versions = [r.version for r in records if r.incident_id == gone.merged_into]
    assert survivor_versions == sorted(survivor_versions) and len(survivor_versions) >= 2
    kinds = [
        (d.record.kind, d.record.incident_id)
        for d in decisions
        if isinstance(d.record, Notification)
    ]
    assert ("incident_merged", gone.incident_id) in kinds
    assert gone.merged_into in next(
        d.record.title for d in decisions if d.stream == "notifications"
        and d.record.kind == "incident_merged"
    )


# web calls api; api calls db and queue (as in test_correlation_split).
BESIDE = [("web", "api"), ("api", "db"), ("api", "queue")]
LAT, ERR = "HighRequestLatency", "HighErrorRate"
# Two faults on api kept apart at join time: latency, then errors with a fresh root below.
TWO_ON_API = [
    alert("1", "api", 0, name=LAT),
    alert("2", "web", 30, name=LAT),
    anomaly("queue", 400, name="error_ratio"),
    alert("4", "api", 450, name=ERR),
    alert("5", "web", 470, name=ERR),
]


@pytest.mark.parametrize(
    ("edges", "events", "expected", "overrides"),
    [
        pytest.param(
            BESIDE,
            [*TWO_ON_API, alert("6", "db", 480)],
            [["1", "2", "4", "5", "6"]],
            {"merge_distinct_causes": False, "merge_window_s": None},
            id="without-the-guard-a-cause-below-one-service-re-merges-what-split-kept-apart",
        ),
        pytest.param(
            BESIDE,
            [*TWO_ON_API, alert("6", "db", 480)],
            [["1", "2"], ["4", "5", "6"]],
            {"merge_distinct_causes": True, "merge_window_s": None},
            id="incidents-whose-causes-share-a-service-stay-apart",
        ),
        pytest.param(
            SHARED_DB,
            [alert("1", "shop", 0), alert("2", "billing", 400), alert("3", "db", -20)],
            [["1", "2", "3"]],
            {"merge_window_s": None},
            id="without-a-window-callers-starting-minutes-apart-merge",
        ),
        pytest.param(
            SHARED_DB,
            [alert("1", "shop", 0), alert("2", "billing", 400), alert("3", "db", -20)],
            [["1"], ["2", "3"]],  # the cause joins one of them (the most recent), no merge
            {"merge_window_s": 120.0},
            id="callers-starting-further-apart-than-the-window-stay-apart",
        ),
        pytest.param(
            SHARED_DB,
            [alert("1", "shop", 0), alert("2", "billing", 60), alert("3", "db", -20)],
            [["1", "2", "3"]],
            {"merge_window_s": 120.0},
            id="callers-starting-within-the-window-merge",
        ),
    ],
)
def test_a_merge_needs_one_fault_on_both_sides(edges, events, expected, overrides):
    decisions = correlate(events, edges, **{"lateness_s": 0.0, **overrides})
    alerts = [sorted(m.id for m in i.members if m.kind == "alert") for i in live(decisions)]
    assert sorted(alerts) == expected
    assert all(i.status != "merged" for i in latest(decisions)) or len(expected) == 1
