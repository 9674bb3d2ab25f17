"""bench/rank_cv.py's offline re-ranking and scoring (no subprocesses)."""

import math

from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.rootcause import RankWeights
from alertflow.operators.correlation.topology import ServiceGraph

from bench import rank_cv

S = 10**9
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def _alert(service: str, t: int) -> AlertMember:
    labels = {"service": service, "alertname": "Errors"}
    return AlertMember(f"f-{service}", labels, {}, T0 + t * S, T0 + t * S, "firing",
                       title="Errors")  # fmt: skip


def _move(service: str, t: int, shift: float) -> AlertMember:
    return AlertMember(f"m-{service}", {"service": service}, {}, T0 + t * S, T0 + t * S,
                       "firing", kind="anomaly", score=0.9, title="http_request_error_ratio",
                       shift=shift, onset_ns=T0 + t * S)  # fmt: skip


def _scenario():
    truth = {"incidents": [{
        "id": "INC-1", "root_cause": "zzz", "fault": "error_spike", "cluster": "c",
        "start": "2026-01-01T00:00:00Z", "alert_fingerprints": ["f-aaa", "f-zzz"],
    }]}  # fmt: skip
    record = {
        "incident_id": "A", "opened_at": "2026-01-01T00:00:40Z",
        "members": [{"kind": "alert", "id": "f-aaa"}, {"kind": "alert", "id": "f-zzz"}],
        "root_causes": [{"service": "aaa"}, {"service": "zzz"}],
    }  # fmt: skip
    members = [_alert("aaa", 0), _alert("zzz", 0), _move("aaa", -30, 4), _move("zzz", -30, 80)]
    return truth, [record], {"INC-1": ["zzz", "aaa"]}, {"A": (members, ServiceGraph())}, {}


def test_every_incident_is_ranked_again_under_the_weights_and_scored_per_fault_kind():
    scenario = _scenario()
    old = rank_cv.score([scenario], rank_cv.OLD)
    new = rank_cv.score([scenario], RankWeights())
    assert (old["all"].n, old["all"].top1, old["all"].top3) == (1, 0, 1)  # ties go by name
    assert (new["error_spike"].top1, new["all"].top1) == (1, 1)  # the larger move leads
    assert (new["all"].z1, new["all"].z3) == (1, 1)


def test_the_grid_holds_every_setting_once_on_either_base():
    for base in rank_cv.BASES.values():
        grid = rank_cv.candidates(base)
        assert len(grid) == len(set(grid)) == 60
        assert math.inf in {w.level_early_s for w in grid}  # the rule off is a candidate
        # The grid varies the change at the start only (rank_levels), nothing else.
        assert {w.change for w in grid} == {base.change}
        assert {w.movers for w in grid} == {base.movers}
    assert rank_cv._seeds("0-8") == list(range(9))
