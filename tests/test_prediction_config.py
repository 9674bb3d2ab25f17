"""The prediction config section: thresholds as Prometheus-style matchers."""

import re

import pytest
from alertflow.schemas.config import ConfigError, load_config
from alertflow.schemas.config_prediction import PredictionConfig, Threshold
from hypothesis import given
from hypothesis import strategies as st

LABEL = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda k: k != "__name__")
VALUE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@pytest.mark.parametrize(
    "match, name, labels, expected",
    [
        ({"__name__": "disk"}, "disk", {}, True),
        ({"__name__": "disk"}, "cpu", {}, False),
        ({"__name__": "disk", "host": "a"}, "disk", {"host": "a", "x": "y"}, True),
        ({"__name__": "disk", "host": "a"}, "disk", {"host": "b"}, False),
        ({"host": ""}, "disk", {}, True),  # PromQL: a missing label equals ""
        ({"__name__": "=~disk_.*"}, "disk_used", {}, True),
        ({"__name__": "=~disk"}, "disk_used", {}, False),  # anchored, as in PromQL
        ({"host": "=~a|b"}, "x", {"host": "b"}, True),
    ],
)
def test_matchers(match, name, labels, expected):
    assert Threshold(match=match, above=1).matches(name, labels) is expected


@pytest.mark.parametrize(
    "threshold, message",
    [
        ({"match": {"__name__": "x"}}, "exactly one of above, below or dynamic"),
        ({"match": {"__name__": "x"}, "above": 1, "below": 0}, "exactly one of above, below or dynamic"),
        ({"match": {}, "above": 1}, "at least one label matcher"),
        ({"match": {"1bad": "x"}, "above": 1}, "not a Prometheus label name"),
        ({"match": {"x": "=~("}, "above": 1}, "bad regular expression"),
        ({"match": {"x": "y"}, "above": "high"}, "valid number"),
    ],
)
def test_bad_thresholds_are_refused_with_the_reason(tmp_path, threshold, message):
    path = tmp_path / "c.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"prediction": {"thresholds": [threshold]}}))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_the_root_config_carries_the_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "prediction:\n  thresholds:\n    - match: {__name__: disk_used_ratio, host: a}\n"
        "      above: 0.9\n    - match: {__name__: cert_days_left}\n      below: 7\n"
    )
    config = load_config(path)
    first, second = config.prediction.thresholds
    assert (first.direction, first.level, second.direction, second.level) == (
        "above",
        0.9,
        "below",
        7.0,
    )
    assert load_config(None).prediction == PredictionConfig()


@given(st.dictionaries(LABEL, VALUE, max_size=4), LABEL, VALUE)
def test_exact_matchers_select_exactly_the_equal_labels(labels, key, value):
    threshold = Threshold(match={key: value}, above=0)
    if value.startswith("=~"):
        return  # a regex matcher, covered above
    actual = labels.get(key, "")
    assert threshold.matches("m", labels) is (actual == value)


@given(st.dictionaries(LABEL, VALUE, min_size=1, max_size=4))
def test_a_series_matches_the_matchers_made_of_its_own_labels(labels):
    match = {k: v for k, v in labels.items() if not v.startswith("=~")}
    if not match:
        return
    assert Threshold(match=match, below=0).matches("m", labels)


def test_the_throughput_bench_forecasts_every_bench_series():
    from bench.throughput import FORECAST_CONFIG, METRIC

    config = load_config(FORECAST_CONFIG)
    (threshold,) = config.prediction.thresholds
    assert threshold.matches(METRIC, {"instance": "i-1", "job": "bench"})


def test_lstm_weights_are_named_from_the_config_file_and_select_by_matchers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "prediction:\n  lstm:\n    - match: {__name__: '=~http_.*'}\n      weights: w/lstm.npz\n"
    )
    (spec,) = load_config(path).prediction.lstm
    assert spec.weights == tmp_path / "w" / "lstm.npz"
    assert spec.matches("http_requests", {}) and not spec.matches("cpu", {})
    with pytest.raises(ConfigError, match="not a Prometheus label name"):
        path.write_text("prediction:\n  lstm:\n    - match: {1x: a}\n      weights: w.npz\n")
        load_config(path)
