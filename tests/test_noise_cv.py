"""bench/noise_cv.py's offline record-or-digest decision and its scoring (no subprocesses)."""

from alertflow.operators.correlation.topology import ServiceGraph

from bench import noise_cv

INF = float("inf")


def _graph() -> ServiceGraph:
    graph = ServiceGraph()
    graph.add_static([("web", "api"), ("api", "db")])  # web calls api calls db
    return graph


def _member(kind: str, fp: str, service: str, ts: str) -> dict:
    return {"kind": kind, "id": fp, "service": service, "ts": ts}


def _lone(incident_id: str, service: str, evidence: list[tuple[str, str]]) -> dict:
    """A one-alert record (alert at 01:00) with evidence (service, onset)."""
    members = [_member("alert", f"fp-{incident_id}", service, "2026-01-01T01:00:00Z")]
    members += [_member("anomaly", f"{s}-{ts}", s, ts) for s, ts in evidence]
    return {
        "incident_id": incident_id, "kind": "incident", "severity": "warning",
        "merged_into": None, "opened_at": "2026-01-01T01:00:00Z", "members": members,
        "root_causes": [{"service": service}],
    }  # fmt: skip


def _scenario():
    truth = {"incidents": [{
        "id": "INC-1", "root_cause": "db", "start": "2026-01-01T00:59:00Z",
        "alert_fingerprints": ["fp-fault"],
    }]}  # fmt: skip
    records = [
        _lone("fault", "db", [("db", "2026-01-01T00:58:00Z")]),  # evidence with it: a fault
        _lone("old", "web", [("db", "2026-01-01T00:00:00Z")]),  # two hops, an hour before
    ]
    return (truth, 2, 2, records, set(), _graph())


def test_evidence_counts_only_near_the_alert_in_graph_and_time():
    fault, old = _scenario()[3]
    assert noise_cv.corroborated(fault, _graph(), (0, 300.0, 120.0, 1))
    assert noise_cv.corroborated(old, _graph(), noise_cv.LOOSE)  # 2 hops, any onset
    assert not noise_cv.corroborated(old, _graph(), (1, INF, INF, 1))  # db is 2 hops below web
    assert not noise_cv.corroborated(old, _graph(), (2, 600.0, 120.0, 1))  # an hour before


def test_a_digested_record_counts_once_as_the_digest_and_a_fault_kept_keeps_its_rank():
    scenario = _scenario()
    loose = noise_cv.score_rule([scenario], noise_cv.LOOSE)
    tight = noise_cv.score_rule([scenario], (1, 600.0, 120.0, 1))
    assert (loose.records_out, tight.records_out) == (2, 2)  # "old" -> one new digest record
    assert (loose.top1, tight.top1) == (1, 1)
    none = noise_cv.score_rule([scenario], (0, 0.0, 0.0, 1))  # the fault's evidence is too early
    assert none.top1 == 0 and none.records_out == 1  # both in one digest: the fault is lost


def test_the_choice_keeps_ranking_and_petshop():
    scenario = _scenario()
    scores = {r: noise_cv.score_rule([scenario], r) for r in noise_cv.RULES}
    chosen = noise_cv.choose(scores, {})
    assert scores[chosen].top1 == 1  # never the rule that loses the fault
    petshop = {r: (0.5 if r[0] < 2 else 1.0) for r in noise_cv.RULES}
    assert noise_cv.choose(scores, petshop)[0] == 2  # PetShop's floor rules out fewer hops
    assert noise_cv._seeds("0-8") == list(range(9))


def test_a_lone_warning_that_flapped_by_the_decision_is_digested_however_corroborated():
    truth, n, payloads, records, shown, graph = _scenario()
    fault = records[0]
    t = 3600.0 + 1767225600.0  # 2026-01-01T01:00:00Z, the alert's start
    flapping = {"fp-fault": [t, t + 300.0]}  # fired again 5 min later: before record_after_s
    late = {"fp-fault": [t, t + 900.0]}  # ...or only after the engine decided
    rule = (0, 300.0, 120.0, 1, 2)
    assert noise_cv.kept_as_record(fault, shown, graph, rule, {"fp-fault": [t]})
    assert not noise_cv.kept_as_record(fault, shown, graph, rule, flapping)
    assert noise_cv.kept_as_record(fault, shown, graph, rule, late)
    assert noise_cv.kept_as_record(fault, shown, graph, (*rule[:4], INF), flapping)
    assert noise_cv.kept_as_record(fault, shown, graph, rule[:4], flapping)  # no fifth: off
    scored = noise_cv.score_rule([(truth, n, payloads, records, shown, graph, flapping)], rule)
    assert scored.top1 == 0  # the fault's only alert flapped: the choice sees the loss
