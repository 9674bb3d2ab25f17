import re

import pytest
from alertflow.schemas.config import AlertflowConfig, ConfigError, load_config


def test_yaml_and_toml_load_the_same(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "inputs:\n  metrics: [kafka://b:9092/m]\nscoring:\n  threshold: 0.7\n"
        "kafka:\n  config:\n    security.protocol: SASL_SSL\n  secrets:\n    sasl.password: hunter2\n"
    )
    toml_file = tmp_path / "c.toml"
    toml_file.write_text(
        'inputs = { metrics = ["kafka://b:9092/m"] }\n[scoring]\nthreshold = 0.7\n'
        '[kafka.config]\n"security.protocol" = "SASL_SSL"\n[kafka.secrets]\n"sasl.password" = "hunter2"\n'
    )
    a, b = load_config(yaml_file), load_config(toml_file)
    assert a == b
    assert a.scoring.threshold == 0.7
    assert a.kafka.client_config() == {"security.protocol": "SASL_SSL", "sasl.password": "hunter2"}
    assert "hunter2" not in repr(a)
    assert a.kafka.consumer_config()["fetch.wait.max.ms"] == 10


def test_overrides_beat_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("scoring:\n  threshold: 0.7\n")
    config = load_config(path, {"scoring.threshold": "0.9", "output": "out"})
    assert config.scoring.threshold == 0.9 and config.output == "out"


@pytest.mark.parametrize(
    ("text", "suffix", "needle"),
    [
        ("scoring: {threshold: 2}", ".yaml", "threshold"),
        ("inputs: {bogus: [x]}", ".yaml", "bogus"),
        ("nonsense: 1", ".yaml", "nonsense"),
        ("[unclosed", ".toml", "not valid"),
        ("a: [", ".yaml", "not valid"),
        ("x", ".ini", "extension"),
        ("- 1\n- 2", ".yaml", "mapping"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, suffix, needle):
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_frozen():
    config = AlertflowConfig()
    with pytest.raises(ValueError):
        config.output = "x"


def test_the_producer_is_idempotent_and_gives_up_with_the_jobs_bound():
    config = load_config(None, {"kafka.delivery_timeout_s": "30"})
    produced = config.kafka.producer_config()
    assert produced["enable.idempotence"] is True
    assert produced["message.timeout.ms"] == 30_000
    # The user's librdkafka settings win.
    off = load_config(None, {"kafka.config.enable.idempotence": False}).kafka.producer_config()
    assert off["enable.idempotence"] is False


@pytest.mark.parametrize(
    ("dotted", "hint"),
    [
        ("scoring.treshold", "scoring.treshold: did you mean scoring.threshold?"),
        ("correlation.noise_digestt", "did you mean correlation.noise_digest?"),
    ],
)
def test_a_mistyped_setting_names_the_one_meant(dotted, hint):
    with pytest.raises(ConfigError, match=re.escape(hint)):
        load_config(None, {dotted: 1})


def test_a_setting_nothing_like_a_known_one_gets_no_guess():
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"zzz_unheard_of": 1})
    assert "did you mean" not in str(caught.value) and "zzz_unheard_of" in str(caught.value)
