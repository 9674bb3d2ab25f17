"""Timestamps: integer epoch nanoseconds inside, RFC 3339 UTC strings on the wire."""

import contextlib
import functools
from datetime import UTC, datetime

from alertflow.schemas.errors import DecodeError

NS_PER_S = 1_000_000_000
# Alertmanager's "no end yet" value and Go's zero time.
_ZERO_TIME_PREFIX = "0001-01-01"


def parse_rfc3339_ns(text: str) -> int:
    """Parse an RFC 3339 timestamp into epoch nanoseconds (naive input is rejected).

    >>> parse_rfc3339_ns("2026-11-25T10:00:00.5Z")
    1795600800500000000
    """
    # The usual spelling, "YYYY-MM-DDTHH:MM:SS.fffZ": its second parsed once (log lines
    # carry a new stamp each, so the callers' caches of whole stamps miss).
    if type(text) is str and text[19:20] == "." and text[-1:] == "Z":
        digits = text[20:-1]
        second = _SECONDS.get(text[:19])
        if second is not None and digits.isdigit() and digits.isascii():
            ts_ns = second + int(digits[:9].ljust(9, "0"))
            if ts_ns < 2**63:
                return ts_ns
    ts_ns = _parse_rfc3339_ns(text)
    if type(text) is str and text[19:20] == "." and text[-1:] == "Z":
        _remember_second(text[:19])
    return ts_ns


_SECONDS: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> its epoch ns
_MAX_SECONDS = 4096  # then it starts again: a live stream moves on to new seconds


def _remember_second(head: str) -> None:
    if "." in head or head != head.strip():
        return  # the general parser would read such a head differently
    if len(_SECONDS) >= _MAX_SECONDS:
        _SECONDS.clear()
    with contextlib.suppress(DecodeError):  # the general parser says why, for the stamp
        _SECONDS[head] = _parse_rfc3339_ns(head + "Z")


def _parse_rfc3339_ns(text: str) -> int:
    """:func:`parse_rfc3339_ns` without the fast path."""
    if not isinstance(text, str):
        raise DecodeError(f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    body = text.strip()
    if body.endswith(("Z", "z")):
        body = body[:-1] + "+00:00"
    frac_ns = 0
    # datetime parses at most microseconds; keep nanoseconds ourselves.
    dot = body.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(body) and body[end] in "0123456789":
            end += 1
        digits = body[dot + 1 : end]
        if not digits:
            raise DecodeError(f"timestamp {text!r} has an empty fraction")
        frac_ns = int(digits[:9].ljust(9, "0"))
        body = body[:dot] + body[end:]
    try:
        parsed = datetime.fromisoformat(body)
    except ValueError:
        raise DecodeError(f"expected an RFC 3339 timestamp, got {text!r}") from None
    if parsed.tzinfo is None:
        raise DecodeError(f"timestamp {text!r} has no UTC offset")
    ts_ns = int(parsed.timestamp()) * NS_PER_S + frac_ns
    # Epoch nanoseconds must fit a signed 64-bit integer (Kafka timestamps, numpy, orjson).
    if not 0 < ts_ns < 2**63:
        raise DecodeError(f"timestamp {text!r} is outside 1970-01-01..2262-04-11")
    return ts_ns


def is_zero_time(text: str | None) -> bool:
    """Whether Alertmanager left this time unset."""
    return not text or text.startswith(_ZERO_TIME_PREFIX)


@functools.lru_cache(maxsize=4096)
def format_ns(ts_ns: int) -> str:
    """Format epoch nanoseconds as RFC 3339 UTC with millisecond precision.

    >>> format_ns(1795600800500000000)
    '2026-11-25T10:00:00.500Z'
    """
    seconds, rest = divmod(ts_ns, NS_PER_S)
    return f"{_second_stamp(seconds)}.{rest // 1_000_000:03d}Z"


# Recent stamps by timestamp: every series of one scrape shares its timestamp, and each
# sample's record carries it (operators.score_block reads this inline: hit, else stamp_ns).
# The same string object each time also keeps its hash for the caches keyed by text.
STAMPS: dict[int, str] = {}
_STAMPS_MAX = 4096


def stamp_ns(ts_ns: int) -> str:
    """:func:`format_ns`, remembered for the next record at the same timestamp.

    >>> stamp_ns(1795600800500000000) is stamp_ns(1795600800500000000)
    True
    """
    text = STAMPS.get(ts_ns)
    if text is None:
        if len(STAMPS) >= _STAMPS_MAX:
            STAMPS.clear()
        text = STAMPS[ts_ns] = format_ns(ts_ns)
    return text


@functools.lru_cache(maxsize=1024)
def _second_stamp(seconds: int) -> str:
    # Cached apart: at 10,000 alerts/s most timestamps are new, their seconds are not.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def coerce_epoch_ns(value: object) -> int:
    """Read a timestamp given as epoch seconds, milliseconds or nanoseconds, or RFC 3339.

    The unit of a number is inferred from its magnitude, which is unambiguous
    for any date between 1973 and 2286.

    >>> coerce_epoch_ns(1795600800) == coerce_epoch_ns(1795600800000)
    True
    """
    if isinstance(value, bool):
        raise DecodeError("expected a timestamp, got a boolean")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DecodeError(f"expected a finite timestamp, got {value!r}")
        magnitude = abs(value)
        if magnitude < 1e11:
            return int(value * NS_PER_S)
        if magnitude < 1e14:
            return int(value * 1_000_000)
        if magnitude < 1e17:
            return int(value * 1_000)
        if magnitude < 1e20:
            return int(value)
        raise DecodeError(f"timestamp {value!r} is out of range")
    if isinstance(value, str):
        stripped = value.strip()
        if ":" in stripped:  # int() fails on it: RFC 3339 without the exception
            return parse_rfc3339_ns(stripped)
        try:
            return coerce_epoch_ns(int(stripped))
        except ValueError:
            return parse_rfc3339_ns(stripped)
    raise DecodeError(f"expected a timestamp, got {type(value).__name__}")
