"""The one place that knows which JSON library alertflow uses."""

from collections.abc import Iterable
from typing import Any

import orjson
from alertflow.schemas.errors import DecodeError

JSONDecodeError = orjson.JSONDecodeError
# The parser itself, raising JSONDecodeError: for a hot path that handles the error itself.
parse = orjson.loads


def loads(raw: bytes | str) -> Any:
    """Parse JSON, raising :class:`DecodeError` with the parser's reason."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}") from None


def dumps(obj: Any) -> bytes:
    """Serialise to compact JSON bytes; dict keys keep their insertion order."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def dumps_each(objs: Iterable[Any]) -> list[bytes]:
    """:func:`dumps` of each object, without a Python call per object.

    A record per call: cheaper than one call for a list of them split afterwards (the
    scans for the separators cost more per record than the call).
    """
    return [_dumps(obj, option=_NUMPY) for obj in objs]


_dumps = orjson.dumps
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def canonical(obj: Any) -> bytes:
    """Compact JSON with sorted keys: the same bytes for equal objects (for hashing)."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
