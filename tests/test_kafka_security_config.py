"""kafka.security: consistent settings, passwords only from environment or files, never shown."""

import pytest
from alertflow.schemas.config import ConfigError, load_config
from alertflow.schemas.kafka_security import SecretUnavailable


def _config(**security):
    return load_config(None, {f"kafka.security.{k}": v for k, v in security.items()})


def test_password_from_a_file_reaches_librdkafka_and_no_repr(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-from-file\n")
    config = _config(protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_username="u",
                     sasl_password={"file": str(secret)}, ca_file="/ca.pem")
    client = config.kafka.client_config()
    assert client["sasl.password"] == "s3cret-from-file"
    assert client["sasl.mechanism"] == "SCRAM-SHA-256" and client["ssl.ca.location"] == "/ca.pem"
    assert "s3cret" not in repr(config) and "s3cret" not in config.model_dump_json()
    assert config.kafka.producer_config()["sasl.password"] == "s3cret-from-file"
    assert config.kafka.consumer_config()["security.protocol"] == "SASL_SSL"


def test_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("AF_TEST_PW", "from-env")
    config = _config(protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
                     sasl_password={"env": "AF_TEST_PW"})
    assert config.kafka.client_config()["sasl.password"] == "from-env"


def test_raw_librdkafka_keys_still_win():
    config = load_config(None, {"kafka.security.protocol": "SSL",
                                "kafka.config.security.protocol": "PLAINTEXT"})
    assert config.kafka.client_config()["security.protocol"] == "PLAINTEXT"


@pytest.mark.parametrize("security,message", [
    ({"protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": {"env": "X"}}, "needs sasl_mechanism"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "needs sasl_password"),
    ({"protocol": "SSL", "sasl_mechanism": "PLAIN"}, "SASL settings given but protocol is SSL"),
    ({"protocol": "PLAINTEXT", "ca_file": "/ca.pem"}, "TLS files given"),
    ({"protocol": "SSL", "cert_file": "/c.pem"}, "cert_file and key_file go together"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u",
      "sasl_password": {"env": "X", "file": "/f"}}, "exactly one of env or file"),
    ({"protocol": "TLS"}, "protocol"),
])  # fmt: skip
def test_inconsistent_settings_are_refused_at_load(security, message):
    with pytest.raises(ConfigError, match=message):
        _config(**security)


def test_unreadable_or_empty_secrets_name_their_source(tmp_path, monkeypatch):
    monkeypatch.delenv("AF_TEST_UNSET", raising=False)
    base = {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"}
    with pytest.raises(SecretUnavailable, match="environment variable AF_TEST_UNSET is unset"):
        _config(**base, sasl_password={"env": "AF_TEST_UNSET"}).kafka.client_config()
    with pytest.raises(SecretUnavailable, match=r"cannot read .*missing"):
        _config(**base, sasl_password={"file": str(tmp_path / "missing")}).kafka.client_config()
