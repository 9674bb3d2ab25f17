"""Readers for the parts of OTLP JSON that metrics, logs and traces share.

OTLP JSON is the protobuf JSON mapping: 64-bit integers are strings, enums may be
names or numbers, trace and span ids are hex, and empty repeated fields are left out.
"""

import math
import re
from collections.abc import Iterator
from typing import Any

from alertflow.schemas import jsoncodec
from alertflow.schemas._fields import require_dict
from alertflow.schemas.errors import DecodeError

UNKNOWN_SERVICE = "unknown_service"  # what OTel SDKs report when service.name is unset
_UINT64_MAX = 2**64 - 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_HEX = frozenset("0123456789abcdef")
_LABEL_INVALID = re.compile(r"[^a-zA-Z0-9_]")
_MAX_DEPTH = 16
_SCALARS = ("stringValue", "boolValue", "intValue", "doubleValue", "bytesValue")


def items(obj: dict[str, Any], key: str, what: str) -> list[Any]:
    """Return the repeated field ``obj[key]``; absent or null means empty."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{what}: field {key!r} must be an array, got {type(value).__name__}")
    return value


def optional_object(obj: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """Return the message field ``obj[key]``; absent or null means an empty message."""
    value = obj.get(key)
    return {} if value is None else require_dict(value, f"{what}.{key}")


def walk(doc: Any, kind: str, leaf: str) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """Yield ``(resource attributes, leaf object)`` for ``resource<Kind>[].scope<Kind>[].<leaf>[]``.

    >>> doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "GET"}]}]}]}
    >>> list(walk(doc, "Spans", "spans"))
    [({}, {'name': 'GET'})]
    """
    root = require_dict(doc, f"OTLP {kind.lower()}")
    for i, resource_entry in enumerate(items(root, f"resource{kind}", "OTLP request")):
        where = f"resource{kind}[{i}]"
        entry = require_dict(resource_entry, where)
        resource = optional_object(entry, "resource", where)
        resource_attrs = attributes(resource.get("attributes"), f"{where}.resource.attributes")
        for j, scope_entry in enumerate(items(entry, f"scope{kind}", where)):
            scope_where = f"{where}.scope{kind}[{j}]"
            scope = require_dict(scope_entry, scope_where)
            for k, obj in enumerate(items(scope, leaf, scope_where)):
                yield resource_attrs, require_dict(obj, f"{scope_where}.{leaf}[{k}]")


def attributes(obj: Any, what: str) -> dict[str, str]:
    """Read ``[{"key": .., "value": AnyValue}]`` into ``{key: text}``.

    >>> attributes([{"key": "http.status_code", "value": {"intValue": "503"}},
    ...             {"key": "retry", "value": {"boolValue": False}}], "span attributes")
    {'http.status_code': '503', 'retry': 'false'}
    """
    return {key: _as_text(value) for key, value in _key_values(obj, what, depth=0).items()}


def any_value_text(obj: Any, what: str) -> str:
    """Render an OTLP ``AnyValue`` as text; arrays and key/value lists become compact JSON.

    >>> any_value_text({"arrayValue": {"values": [{"intValue": 1}, {"stringValue": "a"}]}}, "body")
    '[1,"a"]'
    """
    return _as_text(_any_value(obj, what, depth=0))


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    return jsoncodec.dumps(value).decode()


def _key_values(obj: Any, what: str, depth: int) -> dict[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, list):
        raise DecodeError(f"{what}: expected an array of key/value objects")
    out: dict[str, Any] = {}
    for i, entry in enumerate(obj):
        kv = require_dict(entry, f"{what}[{i}]")
        key = kv.get("key")
        if not isinstance(key, str) or not key:
            raise DecodeError(f"{what}[{i}]: field 'key' must be a non-empty string")
        out[key] = _any_value(kv.get("value"), f"{what}[{key}]", depth)
    return out


def _any_value(obj: Any, what: str, depth: int) -> Any:
    if obj is None:
        return ""
    value = require_dict(obj, what)
    if depth > _MAX_DEPTH:
        raise DecodeError(f"{what}: values nested deeper than {_MAX_DEPTH} levels")
    for key in _SCALARS:
        if key in value:
            return _scalar(key, value[key], what)
    if "arrayValue" in value:
        array = optional_object(value, "arrayValue", what)
        return [_any_value(v, what, depth + 1) for v in items(array, "values", what)]
    if "kvlistValue" in value:
        kvlist = optional_object(value, "kvlistValue", what)
        return _key_values(items(kvlist, "values", what), what, depth + 1)
    return ""  # an empty AnyValue is valid protobuf: the value is unset


def _scalar(key: str, value: Any, what: str) -> str | bool | int | float:
    if key == "boolValue":
        if not isinstance(value, bool):
            raise DecodeError(f"{what}: 'boolValue' must be true or false")
        return value
    if key == "intValue":
        return int64(value, f"{what}.intValue")
    if key == "doubleValue":
        return double(value, f"{what}.doubleValue")
    if not isinstance(value, str):
        raise DecodeError(f"{what}: {key!r} must be a string")
    return value


def float_text(value: float) -> str:
    """Format a float the way Prometheus prints one: ``1``, ``0.25``, ``+Inf``, ``NaN``.

    >>> [float_text(v) for v in (1.0, 0.25, float("inf"), float("nan"))]
    ['1', '0.25', '+Inf', 'NaN']
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def int64(value: Any, what: str, *, unsigned: bool = False) -> int:
    """Read a protobuf (u)int64: a JSON integer or a string of ASCII digits."""
    if isinstance(value, bool):
        raise DecodeError(f"{what}: expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and 0 < len(value) <= 21 and value.isascii():
        body = value[1:] if value[0] in "+-" else value
        if body.isdigit():
            value = int(value)
    if not isinstance(value, int):
        raise DecodeError(f"{what}: expected an integer or a string of digits, got {value!r:.40}")
    low, high = (0, _UINT64_MAX) if unsigned else (_INT64_MIN, _INT64_MAX)
    if not low <= value <= high:
        raise DecodeError(f"{what}: {value} is out of range for a 64-bit integer")
    return value


def double(value: Any, what: str) -> float:
    """Read a protobuf double: a JSON number, or "NaN" / "Infinity" / "-Infinity" / digits."""
    if isinstance(value, bool):
        raise DecodeError(f"{what}: expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.isascii() and len(value) <= 64:
        try:
            return float(value)
        except ValueError:
            pass
    raise DecodeError(f"{what}: expected a number, got {value!r:.40}")


def unix_nano(obj: dict[str, Any], key: str, what: str) -> int:
    """Read a ``fixed64`` epoch-nanosecond field; absent means 0 (unset).

    The wire type is unsigned, but times past 2262 do not fit the signed 64-bit
    nanoseconds used everywhere else, so they are rejected.
    """
    value = obj.get(key)
    if value is None:
        return 0
    ts_ns = int64(value, f"{what}.{key}", unsigned=True)
    if ts_ns > _INT64_MAX:
        raise DecodeError(f"{what}: field {key!r} is past 2262, out of range for epoch nanoseconds")
    return ts_ns


def hex_id(obj: dict[str, Any], key: str, what: str, size: int, *, required: bool) -> str:
    """Read a hex trace id (``size`` 16 bytes) or span id (8 bytes) as lowercase hex."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise DecodeError(f"{what}: field {key!r} is required")
        return ""
    if not isinstance(value, str):
        raise DecodeError(f"{what}: field {key!r} must be a hex string")
    text = value.lower()
    if len(text) != 2 * size or not _HEX.issuperset(text):
        raise DecodeError(f"{what}: field {key!r} must be {2 * size} hex digits, got {value!r:.40}")
    if required and text.count("0") == len(text):
        raise DecodeError(f"{what}: field {key!r} is all zeroes, which OTLP defines as invalid")
    return text


def service_of(resource_attrs: dict[str, str]) -> str:
    """The ``service.name`` resource attribute, or OTel's default when it is unset."""
    return resource_attrs.get("service.name") or UNKNOWN_SERVICE


def record_attributes(resource_attrs: dict[str, str], own: dict[str, str]) -> dict[str, str]:
    """Merge resource and record attributes; the record's win and ``service.name`` is dropped."""
    merged = {k: v for k, v in resource_attrs.items() if k != "service.name"}
    merged.update(own)
    return merged


def prometheus_name(name: str) -> str:
    """Sanitise an OTel attribute or metric name the way Prometheus exposes it.

    >>> prometheus_name("k8s.pod.name"), prometheus_name("2xx")
    ('k8s_pod_name', 'key_2xx')
    """
    clean = _LABEL_INVALID.sub("_", name)
    return f"key_{clean}" if clean[:1].isdigit() else clean
