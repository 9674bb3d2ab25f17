"""The manifests validate offline against the Kubernetes schemas and hang together."""

import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from alertflow.dataflows.job_metrics import JobMetrics
from alertflow.dataflows.run_summary import RunSummary
from alertflow.schemas.config import load_config
from alertflow.schemas.kafka_security import SecretUnavailable

K8S = Path(__file__).parent.parent / "k8s"
KUBERNETES_VERSION = "1.30.0"  # oldest version these manifests promise to work on
VENDORED = {  # custom resources: schemas written from KEDA's reference, kept in k8s/schemas
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication-keda-v1alpha1.json",
}


def _all_docs():
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _by_kind():
    return {doc["kind"]: doc for _, doc in _all_docs()}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("manifest validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name,doc", _all_docs(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_validates_against_its_schema(name, doc, no_network):
    vendored = VENDORED.get((doc["apiVersion"], doc["kind"]))
    if vendored is not None:
        schema = json.loads((K8S / "schemas" / vendored).read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
    else:
        # strict: unknown fields are errors too, so a typo cannot pass as a new field.
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_broken_manifest(no_network):
    sts = _by_kind()["StatefulSet"]
    broken = yaml.safe_load(yaml.safe_dump(sts))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    scaled = yaml.safe_load(yaml.safe_dump(_by_kind()["ScaledObject"]))
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 50000  # KEDA wants strings
    schema = json.loads((K8S / "schemas" / VENDORED[("keda.sh/v1alpha1", "ScaledObject")]).read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(scaled)


def _container():
    return _by_kind()["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]


def test_probes_use_the_job_endpoints_on_the_metrics_port():
    container = _container()
    port = int(container["args"][container["args"].index("--metrics-port") + 1])
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named["metrics"] == port
    metrics = JobMetrics(RunSummary())
    server = metrics.serve(0, "127.0.0.1")  # the real endpoint the probes will call
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz"), ("startupProbe", "/livez")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and get["port"] == "metrics"
        try:
            status = urllib.request.urlopen(base + path, timeout=5).status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (200, 503), f"{path} is not served"
    server.shutdown()
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]


def test_wrapper_gets_the_names_of_the_statefulset_and_service():
    docs = _by_kind()
    sts, service = docs["StatefulSet"], docs["Service"]
    command = _container()["command"]
    assert command[:3] == ["python", "-m", "alertflow.dataflows.k8s_cluster"]
    assert command[command.index("--service") + 1] == sts["spec"]["serviceName"] == service["metadata"]["name"]
    env = {e["name"]: e for e in _container()["env"]}
    assert env["ALERTFLOW_STATEFULSET"]["value"] == sts["metadata"]["name"]
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert service["spec"]["clusterIP"] == "None"
    assert {p["port"] for p in service["spec"]["ports"]} >= {2101}
    role = docs["Role"]["rules"][0]
    assert role["resourceNames"] == [sts["metadata"]["name"]] and role["verbs"] == ["get"]
    assert sts["spec"]["template"]["spec"]["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]


def test_config_map_loads_and_reads_the_password_only_from_the_secret_file(tmp_path):
    text = _by_kind()["ConfigMap"]["data"]["alertflow.yaml"]
    secret_dir = "/etc/alertflow-secrets/"
    assert secret_dir in text
    (tmp_path / "kafka-password").write_text("from-the-secret\n")
    (tmp_path / "alertflow.yaml").write_text(text.replace(secret_dir, f"{tmp_path}/"))
    config = load_config(tmp_path / "alertflow.yaml", {"runtime.process_id": 0})
    client = config.kafka.client_config()
    assert client["sasl.password"] == "from-the-secret"
    assert client["security.protocol"] == "SASL_SSL"
    assert "from-the-secret" not in repr(config)
    (tmp_path / "kafka-password").write_text("")  # the Secret as shipped
    with pytest.raises(SecretUnavailable, match="kafka-password is unset or empty"):
        load_config(tmp_path / "alertflow.yaml").kafka.client_config()


def test_secret_ships_no_password_and_holds_every_key_that_is_mounted_or_referenced():
    docs = _by_kind()
    data = docs["Secret"]["stringData"]
    assert data["kafka-password"] == ""
    volumes = docs["StatefulSet"]["spec"]["template"]["spec"]["volumes"]
    mounted = {i["key"] for v in volumes if "secret" in v for i in v["secret"]["items"]}
    referenced = {r["key"] for r in docs["TriggerAuthentication"]["spec"]["secretTargetRef"]}
    assert mounted | referenced <= set(data)


def test_recovery_is_shared_and_has_partitions_for_the_largest_cluster():
    docs = _by_kind()
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    claim = docs["PersistentVolumeClaim"]["metadata"]["name"]
    for kind in ("StatefulSet", "Job"):
        volumes = docs[kind]["spec"]["template"]["spec"]["volumes"]
        assert {"claimName": claim} in [v.get("persistentVolumeClaim") for v in volumes]
    # Pods wait for the Job's partitions instead of racing to create them.
    (wait,) = docs["StatefulSet"]["spec"]["template"]["spec"]["initContainers"]
    assert "/var/lib/alertflow/recovery/*.sqlite3" in wait["args"][0]
    init = docs["Job"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    partitions = int(re.search(r"bytewax\.recovery \S+ (\d+)", init).group(1))
    workers = load_config(None).runtime.workers_per_process
    assert partitions >= docs["ScaledObject"]["spec"]["maxReplicaCount"] * workers


def test_autoscaling_and_disruption_budget_target_the_statefulset():
    docs = _by_kind()
    sts = docs["StatefulSet"]
    target = docs["ScaledObject"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", sts["metadata"]["name"])
    trigger = docs["ScaledObject"]["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "alertflow"  # where the source commits
    assert trigger["authenticationRef"]["name"] == docs["TriggerAuthentication"]["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    selector = docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
