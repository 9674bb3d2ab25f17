"""Breach prediction per series: when, how sure, and what it tells the correlator."""

import math

import numpy as np
import pytest
from alertflow.operators.decisions import Decision
from alertflow.operators.prediction.breach import (
    PredictionSignal,
    SeriesPredictor,
    ShardPredictor,
    breach_of,
)
from alertflow.operators.prediction.forecaster import Forecast
from alertflow.operators.prediction.recommendations import Catalogue
from alertflow.schemas.config_prediction import PredictionConfig, Threshold
from alertflow.schemas.outputs import Prediction
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import parse_rfc3339_ns

NS = 10**9
STEP = 60
DISK = Threshold(match={"__name__": "disk_used_ratio"}, above=0.9)


def fc(mean, half_width):
    mean = np.asarray(mean, dtype=float)
    return Forecast(0, 300 * NS, mean, mean - half_width, mean + half_width)


@pytest.mark.parametrize(
    "mean, half, threshold, step, conf_range",
    [
        ([0.5, 0.6, 0.7], 0.01, DISK, None, (0.0, 0.01)),
        ([0.8, 0.95, 1.0], 0.01, DISK, 2, (0.99, 1.0)),
        ([0.8, 0.89, 0.89], 0.05, DISK, None, (0.3, 0.5)),  # close: a real chance, no crossing
        ([10, 8, 5], 0.5, Threshold(match={"a": "b"}, below=7), 3, (0.99, 1.0)),
    ],
)
def test_breach_of(mean, half, threshold, step, conf_range):
    b = breach_of(fc(mean, half), threshold.direction, threshold.level)
    assert b.step == step
    assert conf_range[0] <= b.confidence <= conf_range[1]


def ramp_samples(n=8000, start=2880, slope=1e-4, noise=0.005, seed=1):
    rng = np.random.default_rng(seed)
    for i in range(n):
        v = 0.5 + (slope * (i - start) if i > start else 0.0) + rng.normal(0, noise)
        yield MetricSample("disk_used_ratio", {"service": "db"}, i * STEP * NS, float(v))


def run(samples, config=None, thresholds=(DISK,)):
    p = SeriesPredictor("k", list(thresholds), config or PredictionConfig(), Catalogue.load())
    out = []
    for s in samples:
        out.extend(p.process(s))
    return out


def test_a_trend_is_predicted_well_ahead_with_recommendations():
    out = run(ramp_samples())
    records = [d.record for d in out if isinstance(d, Decision)]
    first = next(r for r in records if r.status == "breach_predicted")
    Prediction.model_validate(first.model_dump())
    truth_ns = (2880 + 4000) * STEP * NS  # 0.5 + 1e-4 * 4000 = 0.9
    made = parse_rfc3339_ns(first.ts)
    assert truth_ns - made >= 30 * 60 * NS
    assert abs(parse_rfc3339_ns(first.predicted_breach_at) - truth_ns) < 90 * 60 * NS
    assert [r.id for r in first.recommendations] == ["disk-exhaustion"]
    assert "breach in" in first.recommendations[0].evidence
    assert len(first.forecast) == 48 and 0.6 <= first.confidence <= 1.0
    kinds = [s.kind for s in out if isinstance(s, PredictionSignal)]
    assert kinds[0] == "predicted" and "breached" in kinds


def test_a_flat_series_predicts_nothing():
    assert run(ramp_samples(slope=0.0)) == []


def test_emit_all_gives_plain_forecasts():
    out = run(ramp_samples(n=1500, slope=0.0), PredictionConfig(emit_all=True))
    assert out and {d.record.status for d in out} == {"forecast"}
    assert all(d.record.predicted_breach_at is None for d in out)


def test_a_trend_that_turns_back_is_withdrawn():
    def samples():
        for s in ramp_samples(n=8000):
            i = s.ts_ns // (STEP * NS)
            v = s.value if i < 6700 else 0.5 + 1e-4 * (6700 - 2880) - 2e-4 * (i - 6700)
            yield MetricSample(s.name, s.labels, s.ts_ns, v)

    config = PredictionConfig(incident_confidence=0.6)
    out = run(samples(), config, thresholds=(Threshold(match={"service": "db"}, above=0.9),))
    statuses = [d.record.status for d in out if isinstance(d, Decision)]
    assert "breach_predicted" in statuses and statuses[-1] == "withdrawn"
    assert [s.kind for s in out if isinstance(s, PredictionSignal)][-1] == "withdrawn"


def test_ids_are_deterministic_and_nan_is_skipped():
    a = [d.record.id for d in run(ramp_samples()) if isinstance(d, Decision)]
    b = [d.record.id for d in run(ramp_samples()) if isinstance(d, Decision)]
    assert a == b and len(set(a)) == len(a)
    nan = MetricSample("disk_used_ratio", {}, 0, math.nan)
    assert run([nan]) == []


def test_shard_predictor_forecasts_only_selected_series():
    shard = ShardPredictor(PredictionConfig(thresholds=[DISK]), idle_ns=10 * NS)
    other = MetricSample("cpu", {}, 0, 1.0)
    disk = MetricSample("disk_used_ratio", {}, 0, 0.5)
    shard.process([("cpu", other), ("disk", disk)], wall_ns=0)
    assert shard.predictors["cpu"] is None and shard.predictors["disk"] is not None
    assert shard.evict_idle(wall_ns=100 * NS) == 2 and not shard.predictors
