"""The demo's strict score and timeline, on hand-made incidents."""

from collections import Counter

from alertflow.dataflows.demo_report import score, timeline

TRUTH = {
    "incidents": [
        {
            "id": "T1",
            "root_cause": "db",
            "alert_fingerprints": ["a", "b", "shared"],
            "start": "2026-01-01T10:00:00Z",
            "end": "2026-01-01T10:30:00Z",
        },
        {
            "id": "T2",
            "root_cause": "cache",
            "alert_fingerprints": ["c", "shared"],
            "start": "2026-01-01T12:00:00Z",
            "end": "2026-01-01T12:30:00Z",
        },
        {
            "id": "T3",
            "root_cause": "queue",
            "alert_fingerprints": ["d"],
            "start": "2026-01-01T14:00:00Z",
            "end": "2026-01-01T14:30:00Z",
        },
    ],
}


def _incident(incident_id, opened, cause, *alerts):
    return {
        "incident_id": incident_id,
        "opened_at": opened,
        "members": [{"kind": "alert", "id": fp, "ts": ts} for fp, ts in alerts]
        + [{"kind": "anomaly", "id": "series", "ts": opened}],
        "root_causes": [{"service": cause, "score": 1.0, "evidence": []}],
    }


INCIDENTS = [
    # T1 split: "x1" holds one of its alerts, "x2" holds two, so "x2" is the one that counts.
    _incident("x1", "2026-01-01T10:00:00Z", "db", ("a", "2026-01-01T10:00:00Z")),
    _incident(
        "x2",
        "2026-01-01T10:05:00Z",
        "api",
        ("b", "2026-01-01T10:05:00Z"),
        ("shared", "2026-01-01T10:06:00Z"),
        ("noise1", "2026-01-01T10:07:00Z"),
    ),
    # The shared alert fires again in T2's window: it counts for T2 there, not T1.
    _incident("y", "2026-01-01T12:01:00Z", "cache", ("shared", "2026-01-01T12:01:00Z")),
    _incident("n", "2026-01-01T13:00:00Z", "web", ("noise2", "2026-01-01T13:00:00Z")),
]
PAGES = Counter({"x1": 1, "x2": 2, "y": 1, "n": 3})


def test_strict_score_takes_the_incident_with_most_of_the_alerts():
    scores, noise_incidents, noise_pages = score(INCIDENTS, TRUTH, PAGES)
    t1, t2, t3 = scores
    assert t1.holders == ["x2", "x1"] and t1.held == 2
    assert t1.top_cause == "api" and not t1.cause_right  # x1's right cause does not count
    assert t1.pages == 3
    assert t2.holders == ["y"] and t2.cause_right and t2.pages == 1
    assert t3.holders == [] and t3.top_cause is None and t3.pages == 0
    assert (noise_incidents, noise_pages) == (1, 3)


def _version(incident_id, version, updated, cause):
    return {
        "incident_id": incident_id,
        "version": version,
        "updated_at": updated,
        "severity": "critical",
        "root_causes": [{"service": cause}],
    }


def test_timeline_orders_by_event_time_and_shows_cause_changes_after_the_page():
    versions = [
        _version("i1", 1, "2026-01-01T10:00:00Z", "api"),
        _version("i1", 2, "2026-01-01T10:01:00Z", "db"),  # before the page: not news
        _version("i1", 3, "2026-01-01T10:09:00Z", "cache"),
        _version("i1", 4, "2026-01-01T10:20:00Z", "cache"),
    ]
    notes = [
        {
            "kind": "incident_resolved",
            "incident_id": "i1",
            "incident_version": 4,
            "ts": "2026-01-01T10:20:00Z",
            "severity": "critical",
            "title": "Resolved: likely cause cache",
        },
        {
            "kind": "incident_opened",
            "incident_id": "i1",
            "incident_version": 2,
            "ts": "2026-01-01T10:01:00Z",
            "severity": "critical",
            "title": "Opened: likely cause db",
        },
    ]
    entries = timeline(versions, notes)
    assert [(e.ts[11:16], e.what) for e in entries] == [
        ("10:01", "OPENED"),
        ("10:09", "CAUSE"),
        ("10:20", "RESOLVED"),
    ]
    assert "db -> cache" in entries[1].text
