"""Input sources: Kafka topics and JSONL files, each yielding one list of messages per poll.

Messages of both kinds answer the same calls as ``confluent_kafka.Message``
(``value()``, ``topic()``, ``partition()``, ``offset()``, ``error()``), so the
intake reads them alike.
"""

from pathlib import Path

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from dataflows.kafka_io import KafkaPollSource
from dataflows.shutdown import StoppableSource
from dataflows.uris import KafkaLocation, parse_location
from schemas.config import AlertflowConfig, ConfigError

_LINES_PER_BATCH = 1000


class FileLine:
    """One line of a JSONL input, answering the calls a Kafka message answers."""

    __slots__ = ("_line", "_path", "_value")

    def __init__(self, path: str, line: int, value: bytes) -> None:
        self._path = path
        self._line = line
        self._value = value

    def value(self) -> bytes:
        """The line without its newline."""
        return self._value

    def topic(self) -> str:
        """The file's path."""
        return self._path

    def partition(self) -> None:
        """Files have no partitions."""
        return None

    def offset(self) -> int:
        """The 1-based line number."""
        return self._line

    def error(self) -> None:
        """Reading a line never fails the way a consumer can."""
        return None


class _JsonlPartition(StatefulSourcePartition[list, tuple[int, int]]):
    def __init__(self, path: Path, resume: tuple[int, int] | None) -> None:
        self._name = str(path)
        self._file = path.open("rb")
        self._pos, self._line = resume or (0, 0)
        self._file.seek(self._pos)

    def next_batch(self) -> list[list[FileLine]]:
        batch = []
        for _ in range(_LINES_PER_BATCH):
            raw = self._file.readline()
            if not raw:
                if not batch:
                    raise StopIteration
                break
            self._line += 1
            self._pos += len(raw)
            if raw.strip():
                batch.append(FileLine(self._name, self._line, raw.rstrip(b"\r\n")))
        return [batch] if batch else []

    def snapshot(self) -> tuple[int, int]:
        return (self._pos, self._line)

    def close(self) -> None:
        self._file.close()


class JsonlSource(FixedPartitionedSource[list, tuple[int, int]]):
    """Reads a file of one message per line; resumes at the byte after the last read line."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"input file {path} does not exist or is not a file")
        self.path = path

    def list_parts(self) -> list[str]:
        """One partition: the file."""
        return [str(self.path)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: tuple[int, int] | None
    ) -> _JsonlPartition:
        """Open the file at the resume position."""
        return _JsonlPartition(self.path, resume_state)


def build_source(uri: str, config: AlertflowConfig) -> StoppableSource:
    """The source for one ``--input`` location, stoppable by SIGTERM/SIGINT."""
    location = parse_location(uri)
    if isinstance(location, Path):
        return StoppableSource(JsonlSource(location))
    if not location.topic:
        raise ConfigError(f"input {uri!r} names no topic: expected kafka://host:port/topic")
    return StoppableSource(_kafka_source(location, config))


def _kafka_source(location: KafkaLocation, config: AlertflowConfig) -> KafkaPollSource:
    return KafkaPollSource(
        location.brokers,
        location.topic,
        config.kafka.consumer_config(),
        batch_size=config.kafka.batch_size,
        tail=not config.kafka.stop_at_end,
        log_interval_s=config.kafka.log_interval_s,
        metadata_timeout_s=config.kafka.metadata_timeout_s,
    )
