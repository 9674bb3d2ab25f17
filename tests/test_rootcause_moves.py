"""Issue 10, mode 7: ranking by what changed at the incident's start against each series' own
last hour. A hand-made graph and alert/anomaly sequence each, and the expected top cause.
"""

import math
from dataclasses import replace

import pytest
from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.rank_moves import WITHOUT_MOVES, first_movers
from alertflow.operators.correlation.rootcause import RankWeights, rank_by_onset
from alertflow.operators.correlation.topology import ServiceGraph

S = 10**9
T0 = 1_700_000_000 * S


def alert(service: str, t: float, name: str = "HighErrorRate") -> AlertMember:
    at = T0 + int(t * S)
    labels = {"service": service, "alertname": name, "cluster": "c"}
    return AlertMember(f"{service}-{name}", labels, {}, at, at, "firing", title=name)


def move(service: str, t: float, shift: float | None, onset: float | None = None,
         name: str = "http_request_error_ratio", score: float = 0.9,
         change: float = 2.0, every: float = 30.0) -> AlertMember:  # fmt: skip
    """An anomaly member first seen at ``t`` whose series began moving at ``onset``."""
    at = T0 + int(t * S)
    m = AlertMember(
        f"anomaly:{name}{{{service}}}", {"service": service, "cluster": "c"}, {}, at, at,
        "firing", kind="anomaly", score=score, title=name, delta=1.0, change=change,
        shift=shift, onset_ns=T0 + int((t if onset is None else onset) * S),
        interval_ns=int(every * S),
    )  # fmt: skip
    return m


def graph(*edges: tuple[str, str]) -> ServiceGraph:
    g = ServiceGraph()
    g.add_static(edges)
    return g


@pytest.mark.parametrize(
    ("members", "edges", "first"),
    [
        pytest.param(
            [
                alert("api", 0),
                alert("web", 0),
                move("web", -60, 40, onset=-7200),
                move("api", -30, 40, onset=-90),
            ],
            (),
            "api",
            id="a-move-begun-long-before-the-incident-weighs-less",
        ),
        pytest.param(
            [alert("aaa", 0), alert("zzz", 0), move("aaa", -30, 4), move("zzz", -30, 80)],
            (),
            "zzz",
            id="onsets-tie-at-the-alert-the-larger-move-leads",
        ),
        pytest.param(
            [
                alert("aaa", 0),
                alert("zzz", 0),
                move("aaa", -30, 100, name="alertflow_request_errors_ratio"),
                move("zzz", -30, 30),
            ],
            (),
            "zzz",
            id="a-burst-of-sampled-traces-counts-less-than-a-measured-move",
        ),
        pytest.param(
            [alert("web", 0), alert("db", 30), move("web", -60, 30), move("db", -90, 60)],
            (("web", "db"),),
            "db",
            id="the-dependency-that-moved-first-is-the-cause",
        ),
    ],
)
def test_ranking_by_moves(members, edges, first):
    assert rank_by_onset(members, graph(*edges))[0].service == first


def test_without_moves_the_ranking_is_the_structural_one():
    members = [alert("aaa", 0), alert("zzz", 0), move("aaa", -30, 4), move("zzz", -30, 80)]
    off = RankWeights(change=0.0)
    # The old tie-break (more evidence, then name) cannot tell them apart.
    assert rank_by_onset(members, weights=off)[0].service == "aaa"


def test_an_unmeasured_service_is_missing_not_zero():
    members = [
        alert("new", 0), alert("weak", 0), alert("strong", 0),
        move("new", -30, None), move("weak", -30, 3.5), move("strong", -30, 90),
    ]  # fmt: skip
    ranked = [c.service for c in rank_by_onset(members)]
    assert ranked[0] == "strong"
    assert ranked.index("new") < ranked.index("weak")


def test_the_move_is_named_in_the_evidence_with_its_onset():
    members = [alert("db", 0), move("db", -30, 42.0, onset=-120)]
    (top,) = rank_by_onset(members)
    assert any("moved 42.0 spreads" in e and "120s before the first alert" in e
               for e in top.evidence)  # fmt: skip


def test_a_second_fault_later_in_the_same_incident_is_named_in_the_first_three():
    edges = (("web", "api"), ("api", "db"), ("cache", "db"), ("batch", "db"), ("web", "queue"))
    members = [
        alert("db", 0), move("db", -30, 60), alert("api", 10), move("api", 0, 20),
        alert("web", 20), move("web", 10, 20), alert("cache", 20), move("cache", 10, 20),
        alert("batch", 30), move("batch", 20, 20),
        alert("queue", 900), move("queue", 880, 50),  # its own fault, 15 minutes on
    ]  # fmt: skip
    ranked = rank_by_onset(members, graph(*edges))
    names = [c.service for c in ranked]
    assert names[0] == "db"
    assert "queue" in names[:3]
    assert any("second fault" in e for e in ranked[names.index("queue")].evidence)
    off = RankWeights(wave_gap_s=0.0, movers=0)  # first movers would name it too
    assert (
        "queue" not in [c.service for c in rank_by_onset(members, graph(*edges), weights=off)][:3]
    )


def test_a_later_fault_moving_first_in_its_part_of_the_graph_is_in_the_first_three():
    """Without tracked shifts (scoring's default): the detector's change and first sample."""
    edges = (("web", "api"), ("api", "db"), ("cache", "db"), ("batch", "db"), ("web", "queue"))
    members = [
        alert("db", 0), move("db", -30, None, change=10), alert("api", 10),
        move("api", 0, None, change=5), alert("web", 20), move("web", 10, None, change=4),
        alert("cache", 20), move("cache", 10, None, change=4),
        alert("batch", 30), move("batch", 20, None, change=4),
        move("queue", 300, None, change=8),  # its own fault: nothing below it moved first
    ]  # fmt: skip
    ranked = rank_by_onset(members, graph(*edges), weights=WITHOUT_MOVES)
    names = [c.service for c in ranked]
    assert names[0] == "db"
    assert "queue" in names[:3]
    assert any("before anything it depends on" in e for e in ranked[names.index("queue")].evidence)
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)
    off = replace(WITHOUT_MOVES, movers=0)
    assert (
        "queue" not in [c.service for c in rank_by_onset(members, graph(*edges), weights=off)][:3]
    )


def test_a_move_its_dependency_made_first_is_explained_by_it():
    members = {
        "api": [move("api", 30, None, change=10)],
        "db": [move("db", 0, None, change=10)],
        "web": [move("web", 100, None, change=10)],  # within tolerance of api's: explained
    }
    g = graph(("web", "api"), ("api", "db"))
    moved, first = first_movers(members, g, T0, WITHOUT_MOVES)
    assert (set(moved), [s for s, _ in first]) == ({"api", "db", "web"}, ["db"])
    # Alone, api is a first mover: nothing it depends on moved.
    _, first = first_movers({"api": members["api"]}, g, T0, WITHOUT_MOVES)
    assert [s for s, _ in first] == ["api"]


@pytest.mark.parametrize(
    "member",
    [
        pytest.param(
            move("db", 0, None, change=10, name="alertflow_request_errors_ratio"),
            id="a-burst-of-sampled-traces",
        ),
        pytest.param(move("db", 0, None, change=math.inf), id="a-move-from-an-expected-zero"),
        pytest.param(move("db", 0, None, change=1.5), id="a-small-move"),
        pytest.param(move("db", -3600, None, change=10), id="a-move-long-before-the-first-alert"),
    ],
)
def test_weak_evidence_makes_no_first_mover(member):
    assert first_movers({"db": [member]}, ServiceGraph(), T0, WITHOUT_MOVES) == ({}, [])


def test_a_service_that_did_not_move_yields_first_place_to_the_first_mover():
    """An alert on a service whose metrics did not move does not outrank a large move."""
    members = [
        alert("cache", 0, "CPUThrottlingHigh"),  # alerting, nothing measured moved
        move("api", -120, None, change=40),  # the root's error ratio: nothing below it moved
        move("web", 10, None, change=8),
    ]  # fmt: skip
    g = graph(("web", "api"))
    kept = replace(WITHOUT_MOVES, mover_first=False)
    assert next(c.service for c in rank_by_onset(members, g, weights=kept)) == "cache"
    ranked = [c.service for c in rank_by_onset(members, g, weights=WITHOUT_MOVES)]
    assert ranked[:2] == ["api", "cache"]


@pytest.mark.parametrize(("every", "promoted"), [(30.0, True), (300.0, False)])
def test_a_move_within_the_sampling_resolution_orders_nothing(every, promoted):
    """Scraped every 5 minutes, a move 5 minutes after another is the same sample's news."""
    members = [
        alert("web", 0), move("web", -10, None, change=5, every=every),
        move("cache", 290, None, change=9, every=every),  # later, nothing below it moved
        *[alert(f"s{i}", 60 + i) for i in range(3)],
    ]  # fmt: skip
    names = [c.service for c in rank_by_onset(members, graph(), weights=WITHOUT_MOVES)]
    assert names[0] == "web"
    assert ("cache" in names[:3]) is promoted
