"""Time query parameters: RFC 3339 or epoch seconds/milliseconds/nanoseconds."""

from alertflow.schemas.errors import DecodeError
from alertflow.schemas.timefmt import coerce_epoch_ns
from fastapi import HTTPException


def time_ns_param(value: str | None, name: str) -> int | None:
    """Parse a time parameter; 400 naming the parameter when it is not a time."""
    if value is None:
        return None
    try:
        return coerce_epoch_ns(value)
    except (DecodeError, ValueError, OverflowError):
        raise HTTPException(
            400, f"{name}: expected RFC 3339 or epoch time, got {value!r}"
        ) from None
