"""Canonical input records: what every decoder produces, whatever the wire format.

These are slotted dataclasses, not pydantic models, because one is built per
sample on the hot path; validation happens once, in the decoders.
Timestamps are integer epoch nanoseconds.
"""

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal, TypeVar

_C = TypeVar("_C", bound=type)


def pickled_by_fields(cls: _C) -> _C:
    """Pickle (and copy) a slotted dataclass as its class and a tuple of its fields' values.

    Records cross processes pickled, one by one on the keyed steps; the dataclass
    default (a Python ``__getstate__``/``__setstate__`` pair walking ``fields()``)
    took about twice as long per record. Old pickles still load through ``__setstate__``.
    """
    values = attrgetter(*cls.__slots__)

    def __reduce__(self: Any) -> tuple:
        return (cls, values(self))

    cls.__reduce__ = __reduce__  # type: ignore[attr-defined]
    return cls

AlertStatus = Literal["firing", "resolved"]


@pickled_by_fields
@dataclass(slots=True)
class MetricSample:
    """One point of one series (mutable only so the source can stamp ``read_ns``)."""

    name: str
    labels: dict[str, str]
    ts_ns: int
    value: float
    ref: str = ""  # where it came from, e.g. "metrics.jsonl:12" or "topic/0@1234"
    read_ns: int = 0  # wall clock when the source read it; for in-job latency only


@pickled_by_fields
@dataclass(slots=True)
class AlertEvent:
    """One alert from an Alertmanager webhook payload (``read_ns`` is stamped after decoding)."""

    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_ns: int
    ends_ns: int | None
    generator_url: str = ""
    receiver: str = ""
    ref: str = ""
    read_ns: int = 0

    @property
    def event_ns(self) -> int:
        """The moment this version of the alert describes: its start, or its end once resolved."""
        if self.status == "resolved" and self.ends_ns is not None:
            return self.ends_ns
        return self.starts_ns


@pickled_by_fields
@dataclass(slots=True, frozen=True)
class LogEvent:
    """One log line, from OTLP logs or a plain JSON line."""

    ts_ns: int
    service: str
    level: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)
    trace_id: str = ""
    ref: str = ""


@pickled_by_fields
@dataclass(slots=True, frozen=True)
class SpanEvent:
    """One span of an OTLP trace, reduced to what topology and RED metrics need."""

    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str  # "server", "client", "internal", "producer", "consumer", "unspecified"
    start_ns: int
    end_ns: int
    is_error: bool
    attributes: dict[str, str] = field(default_factory=dict)
    ref: str = ""


@pickled_by_fields
@dataclass(slots=True, frozen=True)
class FeedbackEvent:
    """An operator's verdict on an incident, an alert fingerprint or a series."""

    target: str
    verdict: Literal["true_positive", "false_positive", "noise"]
    by: str
    at_ns: int
    severity: str | None = None
    ref: str = ""


InputRecord = MetricSample | AlertEvent | LogEvent | SpanEvent | FeedbackEvent
