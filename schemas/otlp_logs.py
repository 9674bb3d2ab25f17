"""Logs: OTLP JSON ``ExportLogsServiceRequest``, or one plain JSON line per message.

A plain line is ``{"timestamp", "service", "level"?, "message", "trace_id"?, ...}``;
its other fields become attributes (nested objects flattened with dots, arrays as
JSON text). Levels from both formats are normalised to ``trace``, ``debug``,
``info``, ``warn``, ``error``, ``fatal`` where recognised, else kept lower-cased.
"""

from typing import Any

from alertflow.schemas import jsoncodec
from alertflow.schemas._eventtime import event_time_ns
from alertflow.schemas._fields import require_dict, require_str
from alertflow.schemas._otlp import (
    any_value_text,
    attributes,
    hex_id,
    int64,
    record_attributes,
    service_of,
    unix_nano,
    walk,
)
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import LogEvent

UNSPECIFIED = "unspecified"
_SEVERITY_BANDS = ("trace", "debug", "info", "warn", "error", "fatal")  # 4 numbers each, from 1
_LEVEL_ALIASES = {
    "warning": "warn",
    "information": "info",
    "informational": "info",
    "notice": "info",
    "err": "error",
    "critical": "fatal",
    "crit": "fatal",
    "alert": "fatal",
    "emergency": "fatal",
    "emerg": "fatal",
    "panic": "fatal",
}
_SEVERITY_PREFIX = "SEVERITY_NUMBER_"
_MAX_DEPTH = 8  # deeper objects stay JSON text rather than recursing without bound
_PLAIN_FIELDS = ("timestamp", "service", "level", "message", "trace_id")


def decode_logs(raw: bytes, ref: str = "") -> list[LogEvent]:
    """Decode OTLP JSON logs (detected by ``resourceLogs``) or one plain JSON log line.

    >>> [(e.service, e.level, e.attributes) for e in decode_logs(
    ...     b'{"timestamp":"2026-11-25T10:00:00Z","service":"cart","level":"WARNING",'
    ...     b'"message":"slow query","db":{"table":"orders"},"ms":840}')]
    [('cart', 'warn', {'db.table': 'orders', 'ms': '840'})]
    """
    doc = jsoncodec.loads(raw)
    if isinstance(doc, dict) and "resourceLogs" in doc:
        return logs_from_otlp(doc, ref)
    return [log_from_line(doc, ref)]


def logs_from_otlp(doc: Any, ref: str = "") -> list[LogEvent]:
    """Turn an already-parsed OTLP JSON logs document into events."""
    out: list[LogEvent] = []
    for i, (resource_attrs, record) in enumerate(walk(doc, "Logs", "logRecords")):
        what = f"OTLP log record {i}"
        ts_ns = unix_nano(record, "timeUnixNano", what) or unix_nano(
            record, "observedTimeUnixNano", what
        )
        if ts_ns == 0:
            raise DecodeError(f"{what}: expected 'timeUnixNano' or 'observedTimeUnixNano'")
        own = attributes(record.get("attributes"), f"{what}.attributes")
        out.append(
            LogEvent(
                ts_ns=ts_ns,
                service=service_of(resource_attrs),
                level=_otlp_level(record, what),
                message=any_value_text(record.get("body"), f"{what}.body"),
                attributes=record_attributes(resource_attrs, own),
                trace_id=hex_id(record, "traceId", what, 16, required=False),
                ref=ref,
            )
        )
    return out


def log_from_line(doc: Any, ref: str = "") -> LogEvent:
    """Turn an already-parsed plain JSON log line into an event."""
    line = require_dict(doc, "log line")
    if "timestamp" not in line:
        raise DecodeError("log line: missing field 'timestamp'")
    message = line.get("message")
    if not isinstance(message, str):
        raise DecodeError("log line: field 'message' must be a string")
    level = line.get("level")
    if level is not None and not isinstance(level, str):
        raise DecodeError("log line: field 'level' must be a string")
    trace_id = line.get("trace_id")
    if trace_id is None:
        trace_id = ""
    if not isinstance(trace_id, str):
        raise DecodeError("log line: field 'trace_id' must be a string")
    extra = {k: v for k, v in line.items() if k not in _PLAIN_FIELDS}
    return LogEvent(
        ts_ns=event_time_ns(line["timestamp"], "log line timestamp"),
        service=require_str(line, "service", "log line"),
        level=normalise_level(level or ""),
        message=message,
        attributes=_flatten(extra, "", {}),
        trace_id=trace_id.strip().lower(),
        ref=ref,
    )


def normalise_level(text: str) -> str:
    """Map a level name onto the OTel severity names; unknown names are kept, lower-cased.

    >>> [normalise_level(t) for t in ("WARNING", "Err", "info2", "")]
    ['warn', 'error', 'info2', 'unspecified']
    """
    level = text.strip().lower()
    if not level:
        return UNSPECIFIED
    return _LEVEL_ALIASES.get(level, level)


def _otlp_level(record: dict[str, Any], what: str) -> str:
    # severityNumber is the normalised one; severityText is whatever the logger printed.
    number = _severity_number(record.get("severityNumber", 0), f"{what}.severityNumber")
    if 1 <= number <= 4 * len(_SEVERITY_BANDS):
        return _SEVERITY_BANDS[(number - 1) // 4]
    text = record.get("severityText", "")
    if not isinstance(text, str):
        raise DecodeError(f"{what}: field 'severityText' must be a string")
    return normalise_level(text)


def _severity_number(value: Any, what: str) -> int:
    # The protobuf JSON mapping allows enum names too: "SEVERITY_NUMBER_WARN2".
    if isinstance(value, str) and value.startswith(_SEVERITY_PREFIX):
        name = value.removeprefix(_SEVERITY_PREFIX).lower()
        band, step = (name[:-1], int(name[-1])) if name[-1:] in "234" else (name, 1)
        if band in _SEVERITY_BANDS:
            return 4 * _SEVERITY_BANDS.index(band) + step
        if name == UNSPECIFIED:
            return 0
        raise DecodeError(f"{what}: unknown severity {value!r:.40}")
    return int64(value, what)


def _flatten(
    obj: dict[str, Any], prefix: str, out: dict[str, str], depth: int = 0
) -> dict[str, str]:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, dict) and depth < _MAX_DEPTH:
            _flatten(value, f"{name}.", out, depth + 1)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[name] = str(value)
        else:
            out[name] = jsoncodec.dumps(value).decode()
    return out
