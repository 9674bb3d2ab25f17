"""Breach thresholds read from Prometheus alerting rules (prediction.alert_rules)."""

import re

import pytest
from alertflow.schemas.alert_rules import AlertRuleError, threshold_of
from alertflow.schemas.config import ConfigError, load_config
from alertflow.schemas.config_prediction import Threshold
from hypothesis import given
from hypothesis import strategies as st

RULES = """\
groups:
  - name: capacity
    rules:
      - record: job:disk_used:max
        expr: max by (job) (disk_used_ratio)
      - alert: DiskFull
        expr: disk_used_ratio{host="a", mount=~"/data.*"} > 0.9
        for: 5m
      - alert: CertExpiring
        expr: 7 >= cert_days_left{service='gateway'}
"""


@pytest.mark.parametrize(
    "expr, match, side, level",
    [
        ("up < 1", {"__name__": "up"}, "below", 1.0),
        ('x{a="b"} >= 2.5e3', {"__name__": "x", "a": "b"}, "above", 2500.0),
        ("  x <= -3  ", {"__name__": "x"}, "below", -3.0),
        ("10 < x", {"__name__": "x"}, "above", 10.0),  # the number first: the side flips
        ('{__name__="x", job="j"} > 1', {"__name__": "x", "job": "j"}, "above", 1.0),
        (r'x{path="a\"b"} > 1', {"__name__": "x", "path": 'a"b'}, "above", 1.0),
        ("x{re=~`a|b`,} > 1", {"__name__": "x", "re": "=~a|b"}, "above", 1.0),
    ],
)
def test_simple_comparisons_become_thresholds(expr, match, side, level):
    data = threshold_of(expr, "A")
    assert data == {"match": match, side: level, "name": "A"}
    Threshold.model_validate(data)  # and the config accepts it


@pytest.mark.parametrize(
    "expr, reason",
    [
        ("rate(errors_total[5m]) > 3", "only `metric"),
        ("x > 1 and y > 2", "only `metric"),
        ("x + y > 1", "only `metric"),
        ("x == 1", "only `metric"),
        ("x > y", "only `metric"),
        ('x{a!="b"} > 1', "negative matchers"),
        ('x{a!~"b"} > 1', "negative matchers"),
        ("x{a=b} > 1", "cannot read the label matchers"),
        ("x > Inf", "finite number"),
        ('x{__name__="y"} > 1', "given twice"),
        ('x{a=~"("} > 1', "bad regular expression"),
    ],
)
def test_expressions_without_one_level_are_refused_with_the_reason(expr, reason):
    with pytest.raises(AlertRuleError, match=re.escape(reason)):
        threshold_of(expr, "A")


def test_a_rules_file_adds_thresholds_to_the_config(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        "prediction:\n  alert_rules: [rules.yaml]\n  thresholds:\n"
        "    - match: {__name__: q}\n      above: 5\n"
    )
    own, disk, cert = load_config(config_file).prediction.thresholds
    assert own.label == "{__name__='q'} > 5"
    assert (disk.label, disk.direction, disk.level) == ("DiskFull", "above", 0.9)
    assert disk.matches("disk_used_ratio", {"host": "a", "mount": "/data1"})
    assert not disk.matches("disk_used_ratio", {"host": "a", "mount": "/"})
    assert (cert.label, cert.direction, cert.level) == ("CertExpiring", "below", 7.0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("groups:\n  - name: g\n    rules:\n      - alert: Burn\n        expr: rate(x[1h]) > 2\n",
         "no alert can be a threshold\n  alert rules"),
        ("groups: {}\n", "expected `groups:`"),
        ("groups:\n  - name: g\n", "group 'g' has no `rules:` list"),
        ("groups: [\n", "not valid YAML"),
        ("groups:\n  - name: g\n    rules:\n      - alert: A\n", "`expr` is missing"),
    ],
)  # fmt: skip
def test_a_bad_rules_file_stops_the_config_with_file_and_alert(tmp_path, text, message):
    (tmp_path / "rules.yaml").write_text(text)
    config_file = tmp_path / "c.yaml"
    config_file.write_text("prediction:\n  alert_rules: [rules.yaml]\n")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(config_file)
    assert "rules.yaml" in str(caught.value)


def test_a_missing_rules_file_is_named(tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("prediction:\n  alert_rules: [nowhere.yaml]\n")
    with pytest.raises(ConfigError, match=r"cannot read alert rules .*nowhere\.yaml"):
        load_config(config_file)


@given(st.text(max_size=60))
def test_any_expression_gives_a_threshold_or_a_clear_refusal(expr):
    try:
        data = threshold_of(expr, "A")
    except AlertRuleError as exc:
        assert str(exc)
    else:
        Threshold.model_validate(data)


def test_rules_without_one_level_are_skipped_with_a_warning_naming_them(tmp_path, caplog):
    (tmp_path / "rules.yaml").write_text(
        RULES + "      - alert: Burn\n        expr: rate(x[1h]) > 2\n")
    config_file = tmp_path / "c.yaml"
    config_file.write_text("prediction:\n  alert_rules: [rules.yaml]\n")
    with caplog.at_level("WARNING", logger="alertflow.config"):
        config = load_config(config_file)
    labels = {t.label for t in config.prediction.thresholds}
    assert "Burn" not in labels and "CertExpiring" in labels
    assert "alert 'Burn': only `metric" in caplog.text and "rules.yaml" in caplog.text
