"""kafka.security against real listeners: TLS (and mutual TLS) end to end, SCRAM at Tansu.

What could not be tested: a successful SASL login. Tansu 0.6.0 checks SCRAM when
started with ``--authentication``, but users made with ``tansu user create`` (exit 0)
are answered ``unknown-user``; so the SCRAM test proves the mechanism, user name and
password reach the broker's SASL handshake and a refusal is one clear error.
"""

import os
import subprocess
import sys
import time
import uuid

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.broker import free_port, tansu_binary
from tests.flowkit import alert_lines, metric_lines
from tests.tlskit import TlsFrontedBroker, make_pki

pytestmark = pytest.mark.integration

OUTPUTS = ("anomalies", "incidents", "notifications", "dlq")


def _tls_client(broker, pki, client_cert=True):
    config = {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": str(pki["ca"]),
    }
    if client_cert:
        config |= {
            "ssl.certificate.location": str(pki["client_cert"]),
            "ssl.key.location": str(pki["client_key"]),
        }
    return config


def _run(broker_bootstrap, topics, settings, env=None, timeout=120):
    args = [
        sys.executable, "-m", "alertflow.dataflows.cli", "run",
        "--input", f"metrics=kafka://{broker_bootstrap}/{topics['metrics']}",
        "--input", f"alerts=kafka://{broker_bootstrap}/{topics['alerts']}",
        "--output", f"kafka://{broker_bootstrap}",
        "--set", f"topic_prefix={topics['prefix']}", "--set", "kafka.stop_at_end=true",
        "--set", "kafka.metadata_timeout_s=5", "--set", "kafka.delivery_timeout_s=10",
    ]  # fmt: skip
    for key, value in settings.items():
        args += ["--set", f"kafka.security.{key}={value}"]
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    broker = TlsFrontedBroker(pki, require_client_cert=True).start()
    yield broker, pki
    broker.stop()


def _topics(broker, pki):
    run = uuid.uuid4().hex[:8]
    names = {"metrics": f"metrics-{run}", "alerts": f"alerts-{run}", "prefix": f"out-{run}."}
    admin = AdminClient(_tls_client(broker, pki))
    wanted = [names["metrics"], names["alerts"], *(names["prefix"] + s for s in OUTPUTS)]
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in wanted]).values():
        future.result(timeout=20)
    producer = Producer(_tls_client(broker, pki))
    for topic, lines in ((names["metrics"], metric_lines()), (names["alerts"], alert_lines())):
        for line in lines:
            producer.produce(topic, line)
    assert producer.flush(30) == 0
    return names


def test_mutual_tls_end_to_end(tls):
    broker, pki = tls
    names = _topics(broker, pki)
    done = _run(broker.bootstrap, names, {
        "protocol": "SSL", "ca_file": pki["ca"],
        "cert_file": pki["client_cert"], "key_file": pki["client_key"],
    })  # fmt: skip
    assert done.returncode == 0, done.stderr
    consumer = Consumer({**_tls_client(broker, pki), "group.id": "check", "enable.partition.eof": True})
    consumer.assign([TopicPartition(names["prefix"] + "incidents", 0, 0)])
    incidents = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is None:
            continue
        if message.error():
            break
        incidents.append(orjson.loads(message.value()))
    consumer.close()
    assert {i["domain"] for i in incidents} == {"c1", "*"}  # "*": the estate's noise digest


def test_an_untrusted_broker_certificate_is_one_clear_error(tls, tmp_path):
    broker, pki = tls
    names = {"metrics": "m", "alerts": "a", "prefix": "p."}
    stranger = make_pki(tmp_path, "other")  # a CA that did not sign the broker
    done = _run(broker.bootstrap, names, {
        "protocol": "SSL", "ca_file": stranger["ca"],
        "cert_file": pki["client_cert"], "key_file": pki["client_key"],
    }, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "alertflow: error: input topic" in done.stderr
    assert "certificate verify failed" in done.stderr


def test_without_a_client_certificate_the_tls_listener_refuses(tls):
    broker, pki = tls
    names = {"metrics": "m", "alerts": "a", "prefix": "p."}
    done = _run(broker.bootstrap, names, {"protocol": "SSL", "ca_file": pki["ca"]}, timeout=60)
    assert done.returncode == 2
    assert "did not answer" in done.stderr


def test_scram_credentials_reach_the_brokers_sasl_handshake(tmp_path):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/", "--authentication"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    password = f"pw-{uuid.uuid4().hex}"
    try:
        done = _run(f"127.0.0.1:{port}", {"metrics": "m", "alerts": "a", "prefix": "p."}, {
            "protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "alertflow", "sasl_password.env": "ALERTFLOW_TEST_KAFKA_PASSWORD",
        }, env={"ALERTFLOW_TEST_KAFKA_PASSWORD": password}, timeout=60)  # fmt: skip
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    assert done.returncode == 2
    # The broker answered the SCRAM exchange (so mechanism and user went over the wire) ...
    assert "SASL SCRAM authentication failed: broker responded with unknown-user" in done.stderr
    # ... and the password, which did too, is nowhere in what the job printed.
    assert password not in done.stderr + done.stdout


def test_a_missing_password_variable_is_named_before_any_connection():
    done = _run("127.0.0.1:9", {"metrics": "m", "alerts": "a", "prefix": "p."}, {
        "protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u",
        "sasl_password.env": "ALERTFLOW_TEST_UNSET_PASSWORD",
    }, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "environment variable ALERTFLOW_TEST_UNSET_PASSWORD is unset or empty" in done.stderr
