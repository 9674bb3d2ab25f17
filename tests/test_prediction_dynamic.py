"""Dynamic thresholds: levels follow the season, hold their rate, and do not flap."""

import math
import pickle

import numpy as np
import pytest
from alertflow.operators.prediction.breach import ShardPredictor
from alertflow.operators.prediction.dynamic import DynamicLevels
from alertflow.operators.prediction.forecaster import ForecasterSettings, SeasonalForecaster
from alertflow.schemas.config_prediction import DynamicSpec, PredictionConfig, Threshold
from alertflow.schemas.records import MetricSample
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

STEP_S = 300
DAY = 86400 // STEP_S


def seasonal(days: int, amplitude: float, noise: float, seed: int = 0) -> np.ndarray:
    """A daily sine around 50 with Gaussian noise, one sample per 5 minutes."""
    rng = np.random.default_rng(seed)
    i = np.arange(days * DAY)
    return 50 + amplitude * np.sin(2 * np.pi * i / DAY) + rng.normal(0, noise, i.size)


def run(values: np.ndarray, spec: DynamicSpec) -> dict[str, np.ndarray]:
    """Feed a series through a forecaster and dynamic levels, as breach prediction does."""
    forecaster = SeasonalForecaster(ForecasterSettings(min_step_s=STEP_S))
    levels = DynamicLevels(spec)
    fire, firing, over, events = [], [], [], []
    for k, value in enumerate(values):
        ts = k * STEP_S * 10**9
        baseline = forecaster.baseline_at(ts)
        level = math.nan
        if baseline is not None:
            level = levels.fire_level(baseline)
            events.append(levels.observe(float(value), ts, baseline))
        fire.append(level)
        over.append(value > level if spec.direction == "above" else value < level)
        firing.append(levels.firing)
        forecaster.learn_one(float(value), ts)
    return {
        "fire": np.array(fire),
        "firing": np.array(firing),
        "over": np.array(over),
        "fires": np.array([e == "fire" for e in events]).sum(),
    }


def test_levels_follow_the_season():
    spec = DynamicSpec(rate=0.02, min_fire_s=0, min_clear_s=0)
    out = run(seasonal(days=8, amplitude=20, noise=1), spec)
    last = out["fire"][-DAY:]
    peak, trough = last[DAY // 4], last[3 * DAY // 4]  # sin peaks at 6:00, bottoms at 18:00
    # A static level would be flat; this one swings with the season's 40-unit range.
    assert peak - trough > 30
    # ...and sits a few noise-sigmas above the value it tracks, not far above the peak.
    assert 50 + 20 < peak < 50 + 20 + 6


@pytest.mark.parametrize("rate", [0.005, 0.01, 0.05])
@pytest.mark.parametrize("amplitude", [0.0, 20.0])
def test_achieved_rate_is_near_target(rate, amplitude):
    out = run(seasonal(days=10, amplitude=amplitude, noise=2, seed=1), DynamicSpec(rate=rate))
    achieved = out["over"][3 * DAY :].mean()  # after the season is learned
    assert rate / 2 <= achieved <= rate * 2, achieved


@pytest.mark.parametrize(
    "spec, max_fires",
    [
        (DynamicSpec(rate=0.05, min_fire_s=900, min_clear_s=1800), 20),
        (DynamicSpec(rate=0.05, min_fire_s=0, min_clear_s=1800, clear_factor=10), 40),
    ],
)
def test_noise_does_not_flap(spec, max_fires):
    values = seasonal(days=7, amplitude=0, noise=3, seed=2)
    calm = run(values, spec)
    flappy = run(values, DynamicSpec(rate=spec.rate, min_fire_s=0, min_clear_s=0, clear_factor=1))
    assert calm["fires"] <= max_fires
    assert flappy["fires"] > 3 * calm["fires"]


def test_below_direction_and_pickling():
    spec = DynamicSpec(rate=0.01, direction="below", min_fire_s=900, min_clear_s=0)
    values = seasonal(days=3, amplitude=0, noise=1, seed=3)
    values[-5:] = 0.0  # a collapse: a breach below
    out = run(values, spec)
    assert out["firing"][-1] and not out["firing"][-DAY:-10].any()
    levels = DynamicLevels(spec)
    for k in range(200):
        levels.observe(float(k % 7), k * 10**9, 0.0)
    clone = pickle.loads(pickle.dumps(levels))
    assert (clone.fire_offset, clone.clear_offset) == (levels.fire_offset, levels.clear_offset)


def test_breach_prediction_uses_the_dynamic_level():
    config = PredictionConfig(
        thresholds=[Threshold(match={"__name__": "lat"}, dynamic=DynamicSpec(rate=0.01))],
        forecast_every_s=900,
    )
    shard = ShardPredictor(config, idle_ns=10**18)
    values = seasonal(days=4, amplitude=10, noise=1, seed=4)
    values[-60:] += np.linspace(0, 40, 60)  # a ramp away from the baseline
    signals = []
    for k, value in enumerate(values):
        sample = MetricSample(name="lat", labels={}, value=float(value), ts_ns=k * STEP_S * 10**9)
        signals += shard.process([("lat", sample)], 0)
    predictions = [s.record for s in signals if getattr(s, "stream", "") == "predictions"]
    predicted = [p for p in predictions if p.status == "breach_predicted"]
    assert predicted, "the ramp toward the learned level is foretold"
    assert all(math.isfinite(p.threshold.level) for p in predicted)
    assert "dynamic(rate=0.01)" in predicted[0].threshold.name


SPEC_FIELD = st.sampled_from(
    ["rate", "min_fire_s", "min_clear_s", "clear_factor", "window", "direction", "bogus"]
)
SPEC_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.sampled_from(["above", "below", "sideways", ""]),
    st.none(),
)


@given(st.dictionaries(SPEC_FIELD, SPEC_VALUE, max_size=5), st.booleans())
def test_config_accepts_valid_specs_only(raw, with_above):
    item = {"match": {"__name__": "x"}, "dynamic": raw}
    if with_above:
        item["above"] = 1.0
    try:
        threshold = Threshold.model_validate(item)
    except ValidationError as exc:
        assert exc.errors(), "a rejection says why"
        return
    assert not with_above  # dynamic replaces above/below, never joins them
    spec = threshold.dynamic
    assert spec is not None
    assert 0 < spec.rate <= 0.2 and spec.min_fire_s >= 0 and spec.min_clear_s >= 0
    assert 1 <= spec.clear_factor <= 50 and 50 <= spec.window <= 100_000
    assert threshold.direction == spec.direction and math.isnan(threshold.level)
