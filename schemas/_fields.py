"""Small field readers shared by the decoders; each raises DecodeError naming the field."""

from typing import Any

from alertflow.schemas.errors import DecodeError


def require_dict(obj: Any, what: str) -> dict[str, Any]:
    """Return ``obj`` if it is a JSON object."""
    if not isinstance(obj, dict):
        raise DecodeError(f"{what}: expected a JSON object, got {type(obj).__name__}")
    return obj


def require_str(obj: dict[str, Any], key: str, what: str) -> str:
    """Return the non-empty string at ``obj[key]``."""
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise DecodeError(f"{what}: field {key!r} must be a non-empty string")
    return value


def string_map(obj: Any, what: str) -> dict[str, str]:
    """Return a ``{str: str}`` map; scalar values are turned into strings."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise DecodeError(f"{what}: expected an object of strings, got {type(obj).__name__}")
    out: dict[str, str] = {}
    for key, value in obj.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool | int | float):
            out[key] = str(value)
        else:
            raise DecodeError(f"{what}: value of {key!r} must be a string")
    return out


def sample_value(value: Any, what: str) -> float:
    """Read a sample value: a number or a numeric string ("NaN" and "+Inf" included).

    Prometheus uses NaN as its staleness marker, so non-finite values are valid
    input here; the scorer decides what to do with them.
    """
    if isinstance(value, bool):
        raise DecodeError(f"{what}: expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise DecodeError(f"{what}: expected a number, got {value[:40]!r}") from None
    raise DecodeError(f"{what}: expected a number, got {type(value).__name__}")
