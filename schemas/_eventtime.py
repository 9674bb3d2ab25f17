"""Event-time fields of the plain JSON formats, read with the field's name in every error."""

import functools
from typing import Any

from alertflow.schemas.errors import DecodeError
from alertflow.schemas.timefmt import coerce_epoch_ns

# Epoch nanoseconds must fit a signed 64-bit integer (numpy, Kafka timestamps, orjson).
MAX_EPOCH_NS = 2**63 - 1


def event_time_ns(value: Any, what: str) -> int:
    """Read a timestamp field; see :func:`_event_time_ns` (string stamps are cached)."""
    if type(value) is str:
        return _text_event_time_ns(value, what)
    return _event_time_ns(value, what)


@functools.lru_cache(maxsize=4096)
def _text_event_time_ns(value: str, what: str) -> int:
    # Every sample of one scrape carries the same timestamp string.
    return _event_time_ns(value, what)


# Called directly by the metrics intake's inline path (schemas.prometheus): a call less
# per sample than event_time_ns, for a value known to be a string.
text_event_time_ns = _text_event_time_ns


def _event_time_ns(value: Any, what: str) -> int:
    """Read epoch seconds, milliseconds or nanoseconds, or RFC 3339, as epoch nanoseconds.

    >>> event_time_ns("2026-11-25T10:00:00Z", "timestamp") == event_time_ns(1795600800, "ts")
    True
    """
    # Both spellings are ASCII; this also keeps non-ASCII digits ("²") out of int().
    if isinstance(value, str) and not value.isascii():
        raise DecodeError(f"{what}: expected an RFC 3339 or epoch timestamp, got {value!r:.40}")
    try:
        ts_ns = coerce_epoch_ns(value)
    except DecodeError as exc:
        raise DecodeError(f"{what}: {exc.reason}") from None
    if ts_ns <= 0:
        raise DecodeError(f"{what}: expected a time after 1970-01-01, got {value!r:.40}")
    if ts_ns > MAX_EPOCH_NS:
        raise DecodeError(f"{what}: expected a time before 2262-04-11, got {value!r:.40}")
    return ts_ns
