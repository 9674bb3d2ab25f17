"""Pure scoring functions of bench/correlation.py and bench/petshop.py (no subprocesses)."""

import json

import pytest
from alertflow.operators.correlation.topology import read_static_topology

from bench import correlation as cb
from bench import petshop


@pytest.mark.parametrize(
    ("truth", "pred", "expected"),
    [
        # perfect grouping
        ({"a": "1", "b": "1", "c": "2"}, {"a": "x", "b": "x", "c": "y"}, (1.0, 1.0, 1.0)),
        # everything merged: 1 true pair of 3 predicted pairs
        ({"a": "1", "b": "1", "c": "2"}, {"a": "x", "b": "x", "c": "x"}, (1 / 3, 1.0, 0.5)),
        # everything split (missing from pred = singletons): no pairs predicted
        ({"a": "1", "b": "1", "c": "2"}, {}, (1.0, 0.0, 0.0)),
        # only singletons in truth and pred: 0/0 is 1
        ({"a": "n:a", "b": "n:b"}, {}, (1.0, 1.0, 1.0)),
        # 4 true in one incident, predicted as 2+2: 2 of 6 true pairs
        (
            {"a": "1", "b": "1", "c": "1", "d": "1"},
            {"a": "x", "b": "x", "c": "y", "d": "y"},
            (1.0, 1 / 3, 0.5),
        ),
        # predicted items outside truth are ignored
        ({"a": "1", "b": "1"}, {"a": "x", "b": "x", "z": "x"}, (1.0, 1.0, 1.0)),
    ],
)
def test_pairwise_prf(truth, pred, expected):
    assert cb.pairwise_prf(truth, pred) == pytest.approx(expected)


def test_pair_counts_pool_by_summing():
    a = cb.pair_counts({"a": "1", "b": "1"}, {"a": "x", "b": "x"})
    b = cb.pair_counts({"c": "1", "d": "2"}, {"c": "x", "d": "x"})
    pooled = a + b
    assert (pooled.tp, pooled.pred, pooled.true) == (1, 2, 1)
    assert pooled.precision == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("alerts_in", "incidents_out", "expected"),
    [(100, 5, 0.95), (10, 10, 0.0), (10, 0, 1.0), (0, 3, 0.0), (4, 8, -1.0)],
)
def test_noise_reduction(alerts_in, incidents_out, expected):
    assert cb.noise_reduction(alerts_in, incidents_out) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "truth", "k", "hit"),
    [
        (["a", "b", "c"], "a", 1, True),
        (["a", "b", "c"], "b", 1, False),
        (["a", "b", "c"], "c", 3, True),
        (["a", "b", "c", "d"], "d", 3, False),
        ([], "a", 3, False),
    ],
)
def test_topk(ranked, truth, k, hit):
    assert cb.topk(ranked, truth, k) is hit
    assert petshop.topk(ranked, truth, k) is hit


def _payload(*alerts):
    return json.dumps({"version": "4", "status": "firing", "alerts": [
        {
            "status": status,
            "labels": {"alertname": name, "cluster": cluster, "service": svc},
            "startsAt": start,
            "fingerprint": fp,
        }
        for fp, name, cluster, svc, start, status in alerts
    ]})


LINES = [
    _payload(("f1", "HighLatency", "c1", "api", "2026-01-01T00:01:00Z", "firing")),
    _payload(("f2", "HighLatency", "c1", "db", "2026-01-01T00:00:30Z", "firing")),
    # re-sent episode and its resolution are not new notifications
    _payload(("f1", "HighLatency", "c1", "api", "2026-01-01T00:01:00Z", "firing")),
    _payload(("f1", "HighLatency", "c1", "api", "2026-01-01T00:01:00Z", "resolved")),
    _payload(
        ("f3", "HighLatency", "c2", "api", "2026-01-01T00:02:00Z", "firing"),
        ("f4", "OOMKilled", "c1", "web", "2026-01-01T00:03:00Z", "firing"),
    ),
    "",
]


def test_read_alerts_counts_distinct_firing_episodes():
    alerts, payloads = cb.read_alerts(LINES)
    assert payloads == 5
    assert [a.fingerprint for a in alerts] == ["f2", "f1", "f3", "f4"]


def test_baseline_groups_by_alertname_and_cluster():
    alerts, _ = cb.read_alerts(LINES)
    groups = {g.incident_id: g for g in cb.baseline_groups(alerts)}
    assert set(groups) == {"HighLatency/c1", "HighLatency/c2", "OOMKilled/c1"}
    hl = groups["HighLatency/c1"]
    assert hl.fingerprints == ("f2", "f1")
    assert hl.ranked == ("db", "api")  # earliest alert's service first
    assert hl.opened_at == cb.parse_ts("2026-01-01T00:00:30Z")


GROUND_TRUTH = {
    "incidents": [
        {"id": "INC-1", "root_cause": "db", "start": "2026-01-01T00:00:00Z",
         "alert_fingerprints": ["f1", "f2"]},
        {"id": "INC-2", "root_cause": "web", "start": "2026-01-01T00:02:00Z",
         "alert_fingerprints": ["f4", "f2"]},
    ],
    "noise_alert_fingerprints": ["f3"],
}


def test_truth_assignment_first_listing_wins_and_noise_is_singleton():
    assert cb.truth_assignment(GROUND_TRUTH) == {
        "f1": "INC-1", "f2": "INC-1", "f4": "INC-2", "f3": "noise:f3",
    }


def test_score_end_to_end_on_records():
    records = [
        {"incident_id": "A", "opened_at": "2026-01-01T00:00:40Z",
         "members": [{"kind": "alert", "id": "f1", "ts": "2026-01-01T00:00:30Z"},
                     {"kind": "alert", "id": "f2", "ts": "2026-01-01T00:00:30Z"},
                     {"kind": "anomaly", "id": "z", "ts": "2026-01-01T00:00:30Z"}],
         "root_causes": [{"service": "api"}, {"service": "db"}]},
        {"incident_id": "B", "opened_at": "2026-01-01T00:03:00Z",
         "members": [{"kind": "alert", "id": "f4", "ts": "2026-01-01T00:00:30Z"}, {"kind": "alert", "id": "f3", "ts": "2026-01-01T00:00:30Z"}],
         "root_causes": [{"service": "web"}]},
    ]
    lines = [json.dumps(r) for r in records] + [json.dumps({**records[1], "root_causes": []})]
    state = cb.last_versions(lines)
    assert state[1]["root_causes"] == []
    predicted = [cb.from_incident(r) for r in records]
    assert predicted[0].fingerprints == ("f1", "f2")
    s = cb.score(GROUND_TRUTH, alerts_in=10, predicted=predicted)
    assert s.incidents_out == 2
    assert s.nr == pytest.approx(0.8)
    # truth pairs: (f1,f2); predicted pairs: (f1,f2), (f4,f3)
    assert (s.pairs.tp, s.pairs.pred, s.pairs.true) == (1, 2, 1)
    # INC-1 -> A (ranked api, db): top-3 only; INC-2 ties A and B on one
    # fingerprint each, so the earlier-opened A is its match: a miss, opened 80 s early
    assert (s.true_incidents, s.top1, s.top3) == (2, 0, 1)
    assert s.delays == [40.0, -80.0]
    # ranking's ceiling: INC-1's root is among A's services, INC-2's is not; A holds both
    assert (s.root_in, s.alone) == (1, 0)


# Two faults hours apart re-use both fingerprints (one alert name on one service each);
# each fault was grouped right, in its own incident.
REUSED = {
    "incidents": [
        {"id": "F1", "root_cause": "db", "start": "2026-01-01T00:00:00Z",
         "alert_fingerprints": ["lat", "slow"],
         "alert_episodes": [["lat", "2026-01-01T00:01:00Z"], ["slow", "2026-01-01T00:02:00Z"]]},
        {"id": "F2", "root_cause": "api", "start": "2026-01-01T03:00:00Z",
         "alert_fingerprints": ["lat", "slow"],
         "alert_episodes": [["lat", "2026-01-01T03:01:00Z"], ["slow", "2026-01-01T03:02:00Z"]]},
    ],
    "noise_alert_fingerprints": ["n"],
    "noise_alert_episodes": [["n", "2026-01-01T01:00:00Z"], ["n", "2026-01-01T02:00:00Z"]],
}


def _inc(incident_id, opened, members, ranked):
    return cb.from_incident({
        "incident_id": incident_id, "opened_at": opened,
        "members": [{"kind": "alert", "id": fp, "ts": ts} for fp, ts in members],
        "root_causes": [{"service": s} for s in ranked],
    })


RIGHT = [
    _inc("A", "2026-01-01T00:01:00Z",
         [("lat", "2026-01-01T00:01:00Z"), ("slow", "2026-01-01T00:02:00Z")], ["db"]),
    _inc("B", "2026-01-01T03:01:00Z",
         [("lat", "2026-01-01T03:01:00Z"), ("slow", "2026-01-01T03:02:00Z")], ["api"]),
]
# The second fault's alerts re-fired in the first fault's incident: a true merge.
WRONG = [
    _inc("A", "2026-01-01T00:01:00Z",
         [("lat", "2026-01-01T00:01:00Z"), ("slow", "2026-01-01T00:02:00Z")], ["db", "api"]),
]


@pytest.mark.parametrize(
    ("predicted", "by_episode", "merged", "f1", "top1"),
    [
        # Fingerprint keying: F2 ties A and B on both fingerprints, so its match is the
        # earlier A and it counts as merged into F1's incident (top-1 missed too).
        (RIGHT, False, 1, 1.0, 1),
        # Episode keying: F2's episodes began after B's members did, so they are B's.
        (RIGHT, True, 0, 1.0, 2),
        # A real merge is still one under episode keying.
        (WRONG, True, 1, 0.5, 1),
    ],
)
def test_episode_keying_scores_a_reused_fingerprint_by_its_fault(
    predicted, by_episode, merged, f1, top1
):
    s = cb.score(REUSED, alerts_in=6, predicted=predicted, by_episode=by_episode)
    assert (s.true_incidents, s.merged, s.top1) == (2, merged, top1)
    assert s.pairs.f1 == pytest.approx(f1)


def test_episode_owner_is_the_latest_member_begun_by_then():
    owner = cb.episode_owner(RIGHT)
    at = cb.parse_ts
    assert owner(("lat", at("2026-01-01T00:01:00Z"))) == "A"
    assert owner(("lat", at("2026-01-01T01:30:00Z"))) == "A"  # a re-fire while A held it
    assert owner(("lat", at("2026-01-01T03:01:00Z"))) == "B"
    assert owner(("lat", at("2025-12-31T23:00:00Z"))) == "A"  # before any: the earliest
    assert owner(("n", at("2026-01-01T01:00:00Z"))) is None


def test_truth_without_episodes_is_scored_by_fingerprint():
    old = {k: v for k, v in REUSED.items() if k != "noise_alert_episodes"}
    assert cb.score(old, 6, RIGHT).merged == 1


def test_match_prefers_most_fingerprints_then_earliest():
    p1 = cb.Predicted("p1", 10.0, ("a",), ())
    p2 = cb.Predicted("p2", 20.0, ("b", "c"), ())
    p3 = cb.Predicted("p3", 5.0, ("d",), ())
    assert cb.match(["a", "b", "c"], [p1, p2]) is p2
    assert cb.match(["a", "d"], [p1, p3]) is p3
    assert cb.match(["z"], [p1, p2]) is None


PETSHOP_CSV = """microservice,svcA,svcA,svcB
metric,latency,requests,latency
statistic,Average,Sum,p90
unix_timestamp,,,
1681855320.0,0.5,,2.0
1681855620.0,0.7,12,
"""


def test_read_metrics_csv_and_prometheus_records(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(PETSHOP_CSV)
    columns, data = petshop.read_metrics_csv(path)
    assert columns == [
        petshop.Column("svcA", "latency", "Average"),
        petshop.Column("svcA", "requests", "Sum"),
        petshop.Column("svcB", "latency", "p90"),
    ]
    assert data == [(1681855320.0, ["0.5", "", "2.0"]), (1681855620.0, ["0.7", "12", ""])]
    recs = list(petshop.to_prometheus_records(columns, data))
    assert [
        (r["name"], r["labels"]["service"], r["labels"]["statistic"], r["value"]) for r in recs
    ] == [
        ("petshop_latency", "svcA", "Average", "0.5"),
        ("petshop_latency", "svcB", "p90", "2.0"),
        ("petshop_latency", "svcA", "Average", "0.7"),
        ("petshop_requests", "svcA", "Sum", "12.0"),
    ]
    assert recs[0]["timestamp"] == "2023-04-18T22:02:00.000Z"


def test_petshop_graph_reads_as_the_products_static_topology(tmp_path):
    # The bench hands graph.csv to alertflow as correlation.topology_file: row calls column.
    path = tmp_path / "graph.csv"
    path.write_text(",a,b,c\na,0.0,1.0,0.0\nb,0.0,0.0,1.0\nc,0.0,0.0,0.0\n")
    assert read_static_topology(path) == [("a", "b"), ("b", "c")]


@pytest.mark.parametrize(
    ("anomalies", "expected"),
    [
        ([{"labels": {"service": "a"}, "score": 0.5, "ts": "2"},
          {"labels": {"service": "b"}, "score": 0.9, "ts": "3"}], ["b", "a"]),
        # equal max score: earliest onset first
        ([{"labels": {"service": "a"}, "score": 0.9, "ts": "5"},
          {"labels": {"service": "b"}, "score": 0.9, "ts": "3"},
          {"labels": {"service": "a"}, "score": 0.1, "ts": "1"}], ["a", "b"]),
        ([{"labels": {}, "score": 1.0, "ts": "1"}], []),
    ],
)
def test_rank_from_anomalies(anomalies, expected):
    assert petshop.rank_from_anomalies(anomalies) == expected


def test_rank_from_incidents_best_score_wins():
    incs = [
        {"incident_id": "1", "opened_at": "1",
         "root_causes": [{"service": "a", "score": 0.4}, {"service": "b", "score": 0.3}]},
        {"incident_id": "2", "opened_at": "2", "root_causes": [{"service": "b", "score": 0.8}]},
    ]
    assert petshop.rank_from_incidents(incs) == ["b", "a"]


def test_a_fault_with_no_alert_of_its_own_is_not_counted_merged():
    # F2's only episode is one F1 explains better (overlapping faults): one incident has it.
    truth = {
        "incidents": [
            {"id": "F1", "root_cause": "db", "start": "2026-01-01T00:00:00Z",
             "alert_fingerprints": ["lat"], "shared_episodes": [],
             "alert_episodes": [["lat", "2026-01-01T00:01:00Z"]]},
            {"id": "F2", "root_cause": "api", "start": "2026-01-01T00:00:30Z",
             "alert_fingerprints": ["lat"], "alert_episodes": [],
             "shared_episodes": [["lat", "2026-01-01T00:01:00Z"]]},
        ],
        "noise_alert_fingerprints": [],
        "noise_alert_episodes": [],
    }
    one = [_inc("A", "2026-01-01T00:01:00Z", [("lat", "2026-01-01T00:01:00Z")], ["db", "api"])]
    s = cb.score(truth, alerts_in=1, predicted=one)
    assert (s.true_incidents, s.merged, s.shared_only, s.top1, s.top3) == (2, 0, 1, 1, 2)
    assert cb.score(truth, 1, one, by_episode=False).merged == 1
