"""Secrets come from the environment or files and never reach what is printed or logged."""

import os
import subprocess
import sys

import pytest
from alertflow.schemas.config import KafkaClient, load_config
from alertflow.schemas.governance import SecretUnavailable

from tests.flowkit import metric_lines, write_lines


def test_references_resolve_from_environment_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AF_TEST_PW", "pw-from-env")
    (tmp_path / "pw").write_text("pw-from-file\n")
    client = KafkaClient(secrets={"sasl.password": "env:AF_TEST_PW",
                                  "ssl.key.password": f"file:{tmp_path / 'pw'}"})  # fmt: skip
    resolved = client.client_config()
    assert resolved["sasl.password"] == "pw-from-env"
    assert resolved["ssl.key.password"] == "pw-from-file"
    monkeypatch.delenv("AF_TEST_PW")
    with pytest.raises(SecretUnavailable, match="AF_TEST_PW"):
        client.client_config()


def test_the_printed_config_and_its_repr_mask_every_secret(tmp_path):
    metrics = write_lines(tmp_path / "m.jsonl", metric_lines(n_points=5))
    cmd = [sys.executable, "-m", "alertflow.dataflows.cli", "run", "--input",
           f"metrics={metrics}", "--output", str(tmp_path / "out"),
           "--set", "kafka.secrets.sasl.password=hunter2-literal",
           "--set", "kafka.secrets.sasl.oauthbearer.config=env:AF_TEST_TOKEN", "--show-config"]  # fmt: skip
    env = {**os.environ, "AF_TEST_TOKEN": "token-from-env"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "sasl.password" in done.stdout and "**********" in done.stdout
    for secret in ("hunter2-literal", "token-from-env", "env:AF_TEST_TOKEN"):
        assert secret not in done.stdout + done.stderr
    config = load_config(None, {"kafka.secrets.sasl.password": "hunter2-literal"})
    assert "hunter2-literal" not in repr(config) + str(config)
