import math

from alertflow.operators.anomaly import RobustEWMA
from alertflow.operators.scoring import RECENT_TIMESTAMPS, LateSample, ScoringSettings, SeriesScorer
from alertflow.schemas.outputs import Anomaly
from alertflow.schemas.records import MetricSample
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9


def _scorer(**settings):
    return SeriesScorer("cpu", ScoringSettings(**settings), lambda: RobustEWMA(warmup=10))


def _feed(scorer, values, start=0, step=30):
    out = []
    for i, v in enumerate(values):
        out.extend(scorer.process(MetricSample("cpu", {}, (start + i * step) * S, v, f"f:{i}")))
    return out


def test_spike_becomes_an_anomaly_with_band_and_provenance():
    scorer = _scorer()
    out = _feed(scorer, [10.0, 10.5, 9.5] * 20 + [50.0])
    assert len(out) == 1
    decision = out[0]
    assert decision.stream == "anomalies"
    anomaly = decision.record
    assert isinstance(anomaly, Anomaly)
    assert anomaly.value == 50.0 and anomaly.lower < 10.0 < anomaly.upper
    assert anomaly.detectors == ["robust_ewma"]
    assert decision.inputs == ("f:60",)


def test_ids_are_deterministic():
    a = _feed(_scorer(), [10.0, 10.5, 9.5] * 20 + [50.0])
    b = _feed(_scorer(), [10.0, 10.5, 9.5] * 20 + [50.0])
    assert [d.record.id for d in a] == [d.record.id for d in b]


def test_duplicate_timestamp_is_skipped():
    scorer = _scorer()
    scorer.process(MetricSample("cpu", {}, 100 * S, 1.0))
    assert scorer.process(MetricSample("cpu", {}, 100 * S, 99.0)) == []
    assert scorer.detector.n == 1


def test_late_sample_is_rejected_and_in_bound_one_is_scored():
    scorer = _scorer(lateness_s=60)
    _feed(scorer, [1.0] * 20, start=0, step=30)  # newest at 570 s
    late = scorer.process(MetricSample("cpu", {}, 100 * S, 1.0))
    assert len(late) == 1 and isinstance(late[0], LateSample)
    assert "behind the watermark" in late[0].reason
    n = scorer.detector.n
    assert scorer.process(MetricSample("cpu", {}, 545 * S, 1.0)) == []
    assert scorer.detector.n == n + 1


def test_nan_and_inf_are_skipped():
    scorer = _scorer()
    _feed(scorer, [1.0] * 20)
    for i, v in enumerate([math.nan, math.inf, -math.inf]):
        assert scorer.process(MetricSample("cpu", {}, (10_000 + i) * S, v)) == []
    assert scorer.detector.n == 20


def test_emit_scores_sends_every_scored_sample():
    out = _feed(_scorer(emit_scores=True), [1.0] * 30)
    assert len(out) == 30
    assert {d.stream for d in out} == {"scores"}


def test_per_sample_score_records_follow_the_anomaly_schema():
    out = _feed(_scorer(emit_scores=True), [10.0, 10.5, 9.5] * 20 + [50.0])
    for decision in out:
        if decision.stream == "scores":
            assert isinstance(decision.record, dict)
            assert Anomaly.model_validate(decision.record).id == decision.record["id"]


def test_cold_start_reports_a_jump_before_the_detector_is_warm():
    scorer = _scorer()
    out = _feed(scorer, [1.0, 1.1, 0.9, 5.0])
    assert [d.record.detectors for d in out] == [["cold_start"]]
    anomaly = out[0].record
    assert anomaly.severity == "info" and anomaly.expected == 1.0
    assert anomaly.lower < 1.0 < anomaly.upper < 5.0
    assert anomaly.interval_s == 30.0


def test_cold_start_stays_quiet_on_a_steady_series_and_ends_with_the_warm_up():
    scorer = _scorer()
    assert _feed(scorer, [10.0, 10.5, 9.5, 10.0] * 2) == []
    assert scorer.cold is not None
    _feed(scorer, [10.0] * 4, start=8 * 30)
    assert scorer.cold is None  # the detector speaks from here on


def test_cold_start_can_be_switched_off():
    from alertflow.operators.anomaly.cold_start import ColdStartSettings

    scorer = _scorer(cold_start=ColdStartSettings(enabled=False))
    assert _feed(scorer, [1.0, 1.1, 0.9, 5.0]) == []


def test_cold_start_records_follow_the_reference_sample_by_sample():
    from alertflow.operators.anomaly.cold_start import ColdStartSettings

    from tests.test_cold_start_kernel import ReferenceColdStart

    values = [100.0, 101.5, 98.7, 200.0, 100.2, 99.1, 0.0, 100.4, 100.1]
    out = _feed(_scorer(emit_scores=True), values)
    ref = ReferenceColdStart(ColdStartSettings())
    assert len(out) == len(values)  # the detector speaks from the 10th sample on
    for decision, x in zip(out, values, strict=True):
        z = ref.update(x)
        band = ref.expectation() or (x, x, x)
        anomalous = abs(z) >= 3.0
        record = decision.record
        fields = record if isinstance(record, dict) else record.model_dump()
        assert decision.stream == ("anomalies" if anomalous else "scores")
        assert fields["score"] == abs(z) / (abs(z) + 3.0)
        assert (fields["expected"], fields["lower"], fields["upper"]) == band
        assert fields["severity"] == "info"
        assert fields["detectors"] == (["cold_start"] if anomalous else [])
    assert [d.stream for d in out].count("anomalies") == 2


def test_a_normal_cold_start_sample_builds_no_record(monkeypatch):
    def no_record(*args):
        raise AssertionError("a record was built for a normal sample")

    scorer = _scorer()
    monkeypatch.setattr(scorer, "_decision", no_record)
    assert _feed(scorer, [10.0, 10.5, 9.5, 10.0, 10.2, 9.8]) == []
    assert scorer.cold is not None


def test_a_scorer_snapshot_mid_warm_up_resumes_where_it_stopped():
    import pickle

    values = [10.0, 10.5, 9.5, 10.0, 30.0, 10.2, 9.8, 10.1, 45.0, 10.0, 9.9, 60.0]
    scorer = _scorer(emit_scores=True)
    _feed(scorer, values[:5])
    twin = pickle.loads(pickle.dumps(scorer))
    rest = [d.record for d in _feed(scorer, values[5:], start=5 * 30)]
    assert [d.record for d in _feed(twin, values[5:], start=5 * 30)] == rest


# --------------------------------------------------------------------------- order and copies


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.floats(0, 100)), min_size=1, max_size=80))
def test_every_timestamp_is_learnt_at_most_once_and_intervals_never_go_back(samples):
    """Re-sent and out-of-order samples within the lateness bound, in any arrival order."""
    scorer = SeriesScorer("cpu", ScoringSettings(lateness_s=600, emit_scores=True, threshold=0.0),
                          lambda: RobustEWMA(warmup=1))
    learnt: list[int] = []
    for ts_s, value in samples:
        before = scorer.detector.n
        out = scorer.process(MetricSample("cpu", {}, ts_s * 30 * S, value))
        if scorer.detector.n > before:
            learnt.append(ts_s)
        for decision in out:
            if isinstance(decision, LateSample):
                continue
            record = decision.record
            interval = record.interval_s if isinstance(record, Anomaly) else None
            assert interval is None or interval > 0
    # Each timestamp at most once, except one that fell out of the last RECENT_TIMESTAMPS.
    repeated = [t for t in set(learnt) if learnt.count(t) > 1]
    for t in repeated:
        first, last = learnt.index(t), len(learnt) - 1 - learnt[::-1].index(t)
        assert last - first > RECENT_TIMESTAMPS


def test_a_copy_of_an_older_sample_arriving_late_is_not_learnt_again():
    scorer = _scorer(lateness_s=600)
    _feed(scorer, [1.0, 2.0, 3.0, 4.0], start=0, step=30)  # 0, 30, 60, 90 s
    n = scorer.detector.n
    assert scorer.process(MetricSample("cpu", {}, 30 * S, 2.0)) == []
    assert scorer.detector.n == n


def test_an_anomaly_after_an_out_of_order_sample_measures_its_interval_from_the_newest():
    scorer = _scorer(lateness_s=600)
    _feed(scorer, [10.0, 10.5, 9.5] * 20, start=0, step=30)  # newest at 1770 s
    scorer.process(MetricSample("cpu", {}, 1755 * S, 10.0))  # out of order, within the bound
    out = scorer.process(MetricSample("cpu", {}, 1800 * S, 50.0))
    assert out and out[0].record.interval_s == 30.0
