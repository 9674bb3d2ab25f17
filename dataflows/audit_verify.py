"""``alertflow audit verify``: check an audit chain read from a file or a topic."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from alertflow.dataflows.uris import parse_location
from alertflow.operators.delivery.audit import verify
from alertflow.schemas.config import ConfigError
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.jsoncodec import loads


def _records(lines: list[bytes], source: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, 1):
        try:
            record = loads(line)
        except DecodeError as exc:
            raise ConfigError(f"{source}: record {number} is not JSON: {exc}") from None
        yield record if isinstance(record, dict) else {}


def _read(target: str) -> tuple[list[bytes], str]:
    location = parse_location(target)
    if isinstance(location, Path):
        path = location / "audit.jsonl" if location.is_dir() else location
        try:
            return [line for line in path.read_bytes().splitlines() if line.strip()], str(path)
        except OSError as exc:
            raise ConfigError(f"cannot read audit file {path}: {exc.strerror}") from None
    if not location.topic:
        raise ConfigError(f"{target}: name the audit topic, e.g. kafka://host:9092/alertflow.audit")
    from alertflow.dataflows.incident_topic import read_topic

    return read_topic(location), target


def verify_source(target: str, out: TextIO | None = None) -> int:
    """Print the verdict on ``target``'s chains; 0 when intact, 1 at the first broken link."""
    out = out or sys.stdout
    lines, source = _read(target)
    count, broken = verify(_records(lines, source))
    if broken is not None:
        out.write(f"{source}: chain broken at {broken}\n")
        return 1
    out.write(f"{source}: {count} audit records, every chain intact\n")
    return 0
