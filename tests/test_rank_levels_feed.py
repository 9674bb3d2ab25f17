"""Issue 10, mode 7, in the product: scoring's closed level buckets feed correlation's book.

Scoring emits each series' closed 5-minute bucket; the correlator keeps them in a level
book per domain, in event-time order; ranking reads the book when it renders an incident.
"""

import math
import pickle
import random

from alertflow.operators.anomaly import RobustEWMA
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.correlation.rank_levels import LevelBook, LevelRing, LevelSignal
from alertflow.operators.correlation.rank_moves import WITHOUT_MOVES
from alertflow.operators.scoring import ScoringSettings, SeriesScorer, ShardScorer
from alertflow.schemas.records import AlertEvent, MetricSample
from hypothesis import given
from hypothesis import strategies as st

S = 10**9
T0 = 1_700_000_100 * S  # the first alert (on no bucket boundary)
LABELS = {"service": "db", "cluster": "c"}


def shard(**options) -> ShardScorer:
    return ShardScorer(ScoringSettings(**options), lambda: RobustEWMA(warmup=10), idle_ns=10**18)


def levels_of(out: list) -> list[LevelSignal]:
    return [item for item in out if isinstance(item, LevelSignal)]


def test_scoring_emits_each_closed_bucket_once_with_its_count_sum_and_squares():
    scorer = shard(level_bucket_s=300.0)
    values = [float(k % 7) for k in range(40)]  # 30 s apart: 10 per bucket
    out = []
    for k, v in enumerate(values):
        sample = MetricSample("mem", dict(LABELS), k * 30 * S, v)
        out += levels_of(scorer.process([("mem{db}", sample)], 0))
    assert [s.bucket for s in out] == [0, 1, 2]  # the fourth is still open
    for s in out:
        chunk = values[s.bucket * 10 : s.bucket * 10 + 10]
        assert (s.n, s.total, s.squares) == (10, sum(chunk), sum(v * v for v in chunk))
        assert s.series == "mem{db}" and s.labels["service"] == "db" and s.bucket_s == 300.0


def test_scoring_emits_no_levels_unless_asked():
    scorer = shard()
    batch = [("m", MetricSample("m", {}, k * 60 * S, 1.0)) for k in range(30)]
    assert levels_of(scorer.process(batch, 0)) == []


def test_a_late_sample_of_a_closed_bucket_is_not_counted_twice():
    scorer = shard(level_bucket_s=300.0, lateness_s=600.0)
    times = [0, 100, 200, 310, 250, 620]  # 250 s comes after the bucket closed
    out = []
    for t in times:
        out += levels_of(scorer.process([("m", MetricSample("m", {}, t * S, 1.0))], 0))
    assert [(s.bucket, s.n) for s in out] == [(0, 3), (1, 1)]


def test_a_scorer_restored_from_before_levels_scores_without_them():
    settings = ScoringSettings(level_bucket_s=300.0)
    scorer = SeriesScorer("m", settings, lambda: RobustEWMA(warmup=5))
    for name in ("level_ns", "level"):
        scorer.__dict__.pop(name, None)  # as pickled before the fields existed
    old = pickle.loads(pickle.dumps(scorer))
    for k in range(20):
        old.process(MetricSample("m", {}, k * 60 * S, 1.0))
    assert old.closed_level is None


@given(st.lists(st.tuples(st.integers(0, 7200), st.floats(-1e6, 1e6)), max_size=60))
def test_a_ring_fed_buckets_reads_what_one_fed_samples_does(samples):
    by_sample, by_bucket = LevelRing(), LevelRing()
    buckets: dict[int, list[float]] = {}
    for t, v in sorted(samples):
        by_sample.add(t * S, v)
        buckets.setdefault(t // 300, []).append(v)
    for b, vs in sorted(buckets.items(), reverse=True):  # any order: placed by number
        by_bucket.add_bucket(b, len(vs), sum(vs), sum(v * v for v in vs))
    for start in (0, 1800, 3600, 5400):
        a = by_sample.change(start * S, 7200 * S)
        b = by_bucket.change(start * S, 7200 * S)
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def test_a_book_remembers_settled_changes_after_its_rings_forget_them():
    book = LevelBook()
    rng = random.Random(3)
    for t in range(-5400, 12000, 30):  # long after the start: the ring has moved on
        value = 100.0 + rng.gauss(0, 1) + (20.0 if t >= 0 else 0.0)
        book.add("db", "mem", T0 + t * S, value)
        if t == 900:  # a ranking once the after-window had closed
            settled = book.changes(["db"], T0, T0 + 900 * S)
    assert settled["db"][0] > 10
    assert book.changes(["db"], T0, T0 + 900 * S) == settled
    fresh = LevelBook()
    fresh.rings = book.rings
    assert fresh.changes(["db"], T0, T0 + 900 * S)["db"][0] < 1  # what the ring says now


def test_the_ranking_key_stops_moving_once_the_start_has_settled():
    book = LevelBook()
    horizons = []
    for t in range(-3600, 7200, 300):
        book.add("db", "mem", T0 + t * S, 1.0)
        horizons.append(book.horizon(T0, WITHOUT_MOVES))
    assert horizons == sorted(horizons)
    assert len(set(horizons[-10:])) == 1  # an hour on, nothing new to read


def test_a_book_pickles_small_and_restores_from_before_its_memo():
    book = LevelBook()
    for k in range(100):
        for t in range(0, 4500, 300):
            book.add(f"s{k % 10}", f"m{k}", t * S, float(t % 7))
    size = len(pickle.dumps(book))
    assert size < 100 * 500  # 360 bytes of doubles a ring, little else
    state = book.__dict__.copy()
    del state["memo"], state["newest"]  # as written before they existed
    old = LevelBook.__new__(LevelBook)
    old.__setstate__(state)
    assert old.newest == -1 and not old.memo
    assert old.changes(["s1"], 3000 * S, 4500 * S) == book.changes(["s1"], 3000 * S, 4500 * S)


def _alert(service: str, t: float, name: str) -> AlertEvent:
    at = T0 + int(t * S)
    labels = {"alertname": name, "service": service, "cluster": "c", "severity": "critical"}
    return AlertEvent(f"{service}-{name}", "firing", labels, {}, at, None)


def _signals(service: str, series: str, value) -> list[LevelSignal]:
    """A series' closed buckets from 90 minutes before the first alert to 30 minutes after."""
    out = []
    for b in range((T0 - 5400 * S) // (300 * S), (T0 + 1800 * S) // (300 * S)):
        vs = [value((b * 300 + k * 30) * S - T0) for k in range(10)]
        labels = {"service": service, "cluster": "c"}
        out.append(LevelSignal(series, labels, b, 300.0, 10.0, sum(vs), sum(v * v for v in vs)))
    return out


def test_the_correlator_ranks_first_the_root_whose_series_moved_at_the_start():
    """web calls api calls db; api's memory steps up at the start (no detector flagged it);
    db, deepest and alerting at once, stayed as it was: by the graph alone it comes first."""
    rng = random.Random(5)

    def ranked(with_levels: bool) -> list[str]:
        c = DomainCorrelator("c", IncidentSettings(lateness_s=1e9, notify_after_s=0.0),
                             static_edges=[("web", "api"), ("api", "db")])  # fmt: skip
        events: list = [_alert("web", 0, "HighErrorRate"), _alert("api", 30, "HighLatency"),
                        _alert("db", 60, "HighLatency")]  # fmt: skip
        if with_levels:
            events += _signals("web", "errors", lambda t: 0.01 + rng.gauss(0, 0.004))
            events += _signals("api", "mem", lambda t: 100 + rng.gauss(0, 0.5)
                               + (40.0 if t >= -300 * S else 0.0))  # fmt: skip
            events += _signals("db", "latency", lambda t: 0.2 + rng.gauss(0, 0.02))
            rng.shuffle(events)  # arrival order is not event-time order
        out = c.on_events(events, 0) + c.finish(0)
        versions = [d.record for d in out if d.stream == "incidents"]
        assert (c.grouper.levels is not None) == with_levels
        return [r["root_causes"][0]["service"] for r in versions]

    assert ranked(False)[-1] == "db"
    assert ranked(True)[-1] == "api"


def _flow_inputs(tmp_path) -> dict[str, list[str]]:
    """db alerts first (critical), api two minutes later; api's memory stepped up five
    minutes before the first alert, every other series stayed as it was."""
    from tests.flowkit import T0 as START
    from tests.flowkit import alert_lines, prom_line, write_lines

    rng = random.Random(2)
    lines = []
    for t in range(-5400, 1800, 30):
        for service, name in (("web", "errors"), ("api", "mem"), ("db", "latency")):
            step = 40.0 if (service == "api" and t >= -300) else 0.0
            labels = {"service": service, "cluster": "c1"}
            lines.append(prom_line(name, labels, START + t, 100 + rng.gauss(0, 1) + step))
    alerts = [line for line in alert_lines() if b'"c2"' not in line]
    return {
        "metrics": [str(write_lines(tmp_path / "metrics.jsonl", lines))],
        "alerts": [str(write_lines(tmp_path / "alerts.jsonl", alerts))],
    }


def test_the_flow_feeds_the_book_and_never_outputs_the_levels(tmp_path):
    from alertflow.dataflows.flow import build_flow
    from alertflow.schemas.config import AlertflowConfig
    from bytewax.testing import run_main

    from tests.flowkit import read_jsonl

    inputs = _flow_inputs(tmp_path)
    causes = {}
    for levels in (False, True):
        out = tmp_path / f"out-{levels}"
        config = AlertflowConfig(
            inputs=inputs, output=str(out), scoring={"levels": levels},
            correlation={"lateness_s": 1e9},  # a replay: every alert in event-time order
        )  # fmt: skip
        run_main(build_flow(config))
        assert not (out / "levels.jsonl").exists()
        last = read_jsonl(out / "incidents.jsonl")[-1]
        causes[levels] = last["root_causes"]
    assert causes[False][0]["service"] == "db"
    assert not any("spreads" in e for c in causes[False] for e in c["evidence"])
    assert causes[True][0]["service"] == "api"
    assert any("mem" in e and "largest change" in e for e in causes[True][0]["evidence"])
