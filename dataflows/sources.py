"""Input sources: Kafka topics and JSONL files, each yielding one list of messages per poll.

Messages of both kinds answer the same calls as ``confluent_kafka.Message``
(``value()``, ``topic()``, ``partition()``, ``offset()``, ``error()``), so the
intake reads them alike.
"""

import math
from pathlib import Path

from alertflow.dataflows.kafka_io import KafkaPollSource
from alertflow.dataflows.queue_source import SCHEME as QUEUE_SCHEME
from alertflow.dataflows.queue_source import QueueSource
from alertflow.dataflows.shutdown import StoppableSource
from alertflow.dataflows.uris import KafkaLocation, kafka_inputs, parse_location
from alertflow.schemas.config import AlertflowConfig, ConfigError
from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

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
    def __init__(
        self, path: Path, resume: tuple[int, int] | None, lines_per_batch: int = _LINES_PER_BATCH
    ) -> None:
        self._name = str(path)
        self._per_batch = lines_per_batch
        self._file = path.open("rb")
        self._pos, self._line = resume or (0, 0)
        self._file.seek(self._pos)

    def next_batch(self) -> list[list[FileLine]]:
        batch = []
        for _ in range(self._per_batch):
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
    """Reads a file of one message per line; resumes at the byte after the last read line.

    With ``pace_s`` (and the ``stream`` the file holds) each poll covers about
    ``pace_s`` of event time instead of 1,000 lines, judged from the file's line
    count and its first and last records' times. Files of one replay then advance
    through event time together, as live streams do, instead of a small file
    (alerts) racing hours ahead of a big one (metrics); that needs files in time order.
    """

    def __init__(self, path: Path, pace_s: float | None = None, stream: str | None = None) -> None:
        if not path.is_file():
            raise ConfigError(f"input file {path} does not exist or is not a file")
        self.path = path
        self.lines_per_batch = _LINES_PER_BATCH
        if pace_s is not None and stream is not None:
            self.lines_per_batch = _paced_lines(path, stream, pace_s)

    def list_parts(self) -> list[str]:
        """One partition: the file."""
        return [str(self.path)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: tuple[int, int] | None
    ) -> _JsonlPartition:
        """Open the file at the resume position."""
        return _JsonlPartition(self.path, resume_state, self.lines_per_batch)


def _paced_lines(path: Path, stream: str, pace_s: float) -> int:
    """Lines per poll so that one poll spans about ``pace_s`` of the file's event time."""
    count, first, last = 0, b"", b""
    with path.open("rb") as file:  # one streaming pass: a big file is never held
        for raw in file:
            if raw.strip():
                count += 1
                first, last = first or raw, raw
    times = [t for raw in (first, last) if raw and (t := _event_ns(stream, raw)) is not None]
    span_s = (max(times) - min(times)) / 1e9 if len(times) == 2 else 0.0
    if span_s <= 0:
        return _LINES_PER_BATCH
    return max(1, min(_LINES_PER_BATCH, math.ceil(count * pace_s / span_s)))


def _event_ns(stream: str, raw: bytes) -> int | None:
    try:
        records = decode_stream(stream, raw.rstrip(b"\r\n"), "")
    except (DecodeError, RecursionError):
        return None
    for record in records:
        for name in ("ts_ns", "event_ns", "start_ns", "at_ns"):
            value = getattr(record, name, None)
            if isinstance(value, int):
                return value
    return None


def build_source(uri: str, config: AlertflowConfig, stream: str | None = None) -> StoppableSource:
    """The source for one ``--input`` location, stoppable by SIGTERM/SIGINT."""
    if uri.startswith(QUEUE_SCHEME):
        return StoppableSource(QueueSource(uri))
    location = parse_location(uri)
    if isinstance(location, Path):
        return StoppableSource(JsonlSource(location, config.runtime.file_pace_s, stream))
    if not location.topic:
        raise ConfigError(f"input {uri!r} names no topic: expected kafka://host:port/topic")
    return StoppableSource(_kafka_source(location, config))


def check_inputs(config: AlertflowConfig) -> None:
    """Before the flow starts: every Kafka input topic's brokers answer, or one clear error.

    Inside the engine the same failure surfaces behind a Rust panic note; here it is the
    :class:`~alertflow.dataflows.kafka_io.InputUnavailable` (or ``ConfigError``) alone.
    """
    for location in kafka_inputs(uri for uris in config.inputs.values() for uri in uris):
        _kafka_source(location, config).list_parts()


def _kafka_source(location: KafkaLocation, config: AlertflowConfig) -> KafkaPollSource:
    return KafkaPollSource(
        location.brokers,
        location.topic,
        config.kafka.consumer_config(),
        batch_size=config.kafka.batch_size,
        tail=not config.kafka.stop_at_end,
        log_interval_s=config.kafka.log_interval_s,
        metadata_timeout_s=config.kafka.metadata_timeout_s,
        gather_ms=config.kafka.gather_ms,
    )
