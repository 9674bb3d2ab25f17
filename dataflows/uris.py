"""Input and output locations: ``kafka://host:port[,host:port]/topic`` or a file path."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from alertflow.schemas.config import ConfigError


@dataclass(frozen=True, slots=True)
class KafkaLocation:
    """Brokers and, for inputs, a topic."""

    brokers: tuple[str, ...]
    topic: str | None


def parse_location(uri: str) -> KafkaLocation | Path:
    """Parse a location; anything not ``kafka://`` is a file or directory path.

    >>> parse_location("kafka://b1:9092,b2:9092/metrics")
    KafkaLocation(brokers=('b1:9092', 'b2:9092'), topic='metrics')
    >>> parse_location("out/")
    PosixPath('out')
    """
    if not uri.startswith("kafka://"):
        if "://" in uri:
            raise ConfigError(f"location {uri!r}: expected kafka://host:port/topic or a file path")
        return Path(uri)
    parts = urlsplit(uri)
    brokers = tuple(b for b in parts.netloc.split(",") if b)
    if not brokers:
        raise ConfigError(f"location {uri!r}: no broker address after kafka://")
    for broker in brokers:
        host, _, port = broker.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"location {uri!r}: broker {broker!r} must be host:port")
    topic = parts.path.strip("/") or None
    return KafkaLocation(brokers, topic)


def kafka_inputs(uris: Iterable[str]) -> list[KafkaLocation]:
    """The Kafka topics among input locations; files and intake queues are not.

    >>> kafka_inputs(["m.jsonl", "kafka://b:9092/metrics", "kafka://b:9092", "queue://m"])
    [KafkaLocation(brokers=('b:9092',), topic='metrics')]
    """
    locations = [parse_location(uri) for uri in uris if uri.startswith("kafka://")]
    return [loc for loc in locations if isinstance(loc, KafkaLocation) and loc.topic]


def files_only(inputs: dict[str, list[str]]) -> bool:
    """Whether every input is a file (a replay), not a broker topic or an intake queue.

    >>> files_only({"metrics": ["m.jsonl"], "alerts": ["a.jsonl"]})
    True
    >>> files_only({"metrics": ["m.jsonl", "kafka://b:9092/metrics"]})
    False
    """
    uris = [uri for found in inputs.values() for uri in found]
    return bool(uris) and not any("://" in uri for uri in uris)
