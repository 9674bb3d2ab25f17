"""The manifests hang together: process count, addresses, config and secret keys."""

import re
from pathlib import Path

import yaml
from alertflow.schemas.config import load_config

K8S = Path(__file__).parent.parent / "k8s"


def _docs():
    return {d["kind"]: d for d in yaml.safe_load_all((K8S / "alertflow.yaml").read_text())}


def test_process_addresses_match_replicas_and_service():
    docs = _docs()
    sts = docs["StatefulSet"]
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"][0]
    addresses = re.search(r'-a "([^"]+)"', args).group(1).split(";")
    assert len(addresses) == sts["spec"]["replicas"]
    name, service = sts["metadata"]["name"], sts["spec"]["serviceName"]
    port = docs["Service"]["spec"]["ports"][0]["port"]
    assert addresses == [f"{name}-{i}.{service}:{port}" for i in range(len(addresses))]
    assert docs["Service"]["spec"]["clusterIP"] == "None"


def test_config_map_is_a_valid_alertflow_config(tmp_path):
    text = _docs()["ConfigMap"]["data"]["alertflow.yaml"]
    (tmp_path / "alertflow.yaml").write_text(text)
    config = load_config(
        tmp_path / "alertflow.yaml", {"kafka.secrets.sasl.password": "x", "runtime.process_id": 0}
    )
    assert config.inputs["metrics"] and config.output.startswith("kafka://")
    assert config.kafka.client_config()["sasl.password"] == "x"


def test_secret_keys_are_the_mounted_ones():
    docs = _docs()
    volumes = docs["StatefulSet"]["spec"]["template"]["spec"]["volumes"]
    secret_volume = next(v for v in volumes if "secret" in v)
    keys = {item["key"] for item in secret_volume["secret"]["items"]}
    assert keys <= set(docs["Secret"]["stringData"])
