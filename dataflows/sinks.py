"""Output sinks: Kafka topics named after the output streams, or one JSONL file per stream."""

import tempfile
from pathlib import Path
from typing import BinaryIO

from alertflow.dataflows.kafka_io import KafkaDecisionSink
from alertflow.dataflows.uris import parse_location
from alertflow.operators.decisions import Decision
from alertflow.schemas.config import OUTPUT_STREAMS, AlertflowConfig, ConfigError
from alertflow.schemas.governance import AUDIT_STREAM
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

STREAMS = (*OUTPUT_STREAMS, AUDIT_STREAM)
_SORTED_STREAMS = sorted(STREAMS)


def _resume_point(file: BinaryIO, resume_at: int) -> int:
    """Where a resumed file continues: the snapshot's offset, or less if the file is shorter.

    A file removed or cut while its recovery store was kept must not be padded with
    zero bytes up to the offset: it continues after its last whole line.
    """
    size = file.seek(0, 2)
    if size >= resume_at:
        return resume_at
    end = size
    while end > 0:  # back to the last newline, a block at a time
        start = max(0, end - 65536)
        file.seek(start)
        newline = file.read(end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


class _JsonlPartition(StatefulSinkPartition[Decision, int]):
    def __init__(self, path: Path, resume_at: int | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("r+b" if path.exists() else "wb")
        if resume_at is None:
            self._file.truncate(0)
        else:
            # After a crash, drop what was written past the last snapshot; it is replayed.
            self._file.seek(_resume_point(self._file, resume_at))
            self._file.truncate()

    def write_batch(self, items: list[Decision]) -> None:
        # One write call per batch: an interrupt never leaves half a line.
        self._file.write(b"".join(d.encode() + b"\n" for d in items))
        self._file.flush()

    def snapshot(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class JsonlDirSink(FixedPartitionedSink[Decision, int]):
    """Writes ``<dir>/<stream>.jsonl`` for each output stream."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def clear(self) -> None:
        """Remove the stream files of an earlier run; only for a fresh (not resumed) start.

        Partitions are built lazily, on their first record, so without this a
        stream that gets nothing this run would keep the last run's file.
        """
        for stream in STREAMS:
            (self.directory / f"{stream}.jsonl").unlink(missing_ok=True)

    def list_parts(self) -> list[str]:
        """One partition per output stream."""
        return list(STREAMS)

    def part_fn(self, item_key: str) -> int:
        """Route by stream name to the partition of the same name."""
        # Bytewax indexes into the sorted list of all partitions.
        return _SORTED_STREAMS.index(item_key)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _JsonlPartition:
        """Open the stream's file, truncated to the resume point."""
        return _JsonlPartition(self.directory / f"{for_part}.jsonl", resume_state)


def writable_directory(path: Path, what: str) -> Path:
    """Create ``path`` if needed and prove a file can be written in it, before any work starts.

    Raises :class:`ConfigError` naming the directory and the system's reason, so an
    unwritable output is one line instead of a failure deep inside the engine.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"{what} directory {path} is not writable: {exc.strerror}") from None
    return path


def build_sink(config: AlertflowConfig) -> KafkaDecisionSink | JsonlDirSink:
    """The sink for ``--output``."""
    if not config.output:
        raise ConfigError("no output: give --output kafka://host:port or a directory")
    location = parse_location(config.output)
    if isinstance(location, Path):
        return JsonlDirSink(writable_directory(location, "output"))
    # Only a snapshot needs each batch acknowledged before the engine moves on.
    recovery = config.runtime.recovery_dir is not None
    return KafkaDecisionSink(location.brokers, config.kafka, config.topic_prefix, recovery)
