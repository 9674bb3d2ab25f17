"""Input sources: Kafka topics (Bytewax's connector) and JSONL files."""

from dataclasses import dataclass
from pathlib import Path

from bytewax.connectors.kafka import KafkaSource
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING

from dataflows.shutdown import StoppableSource
from dataflows.uris import KafkaLocation, parse_location
from schemas.config import AlertflowConfig, ConfigError

_LINES_PER_BATCH = 1000


@dataclass(frozen=True, slots=True)
class FileLine:
    """One line of a JSONL input, shaped like a Kafka message for the intake."""

    topic: str
    partition: None
    offset: int  # 1-based line number
    value: bytes


class _JsonlPartition(StatefulSourcePartition[FileLine, tuple[int, int]]):
    def __init__(self, path: Path, resume: tuple[int, int] | None) -> None:
        self._name = str(path)
        self._file = path.open("rb")
        self._pos, self._line = resume or (0, 0)
        self._file.seek(self._pos)

    def next_batch(self) -> list[FileLine]:
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
                batch.append(FileLine(self._name, None, self._line, raw.rstrip(b"\r\n")))
        return batch

    def snapshot(self) -> tuple[int, int]:
        return (self._pos, self._line)

    def close(self) -> None:
        self._file.close()


class JsonlSource(FixedPartitionedSource[FileLine, tuple[int, int]]):
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


def _kafka_source(location: KafkaLocation, config: AlertflowConfig) -> KafkaSource:
    return KafkaSource(
        brokers=list(location.brokers),
        topics=[location.topic],
        tail=not config.kafka.stop_at_end,
        starting_offset=OFFSET_BEGINNING,
        add_config=config.kafka.consumer_config(),
        batch_size=config.kafka.batch_size,
        # Consumer errors travel as data to the dead-letter output.
        raise_on_errors=False,
    )
