"""Alertmanager webhook payloads (version 4), one payload per message."""

from typing import Any, Literal

from alertflow.schemas import jsoncodec
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import AlertEvent
from alertflow.schemas.timefmt import is_zero_time, parse_rfc3339_ns
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class AlertmanagerAlert(BaseModel):
    """One entry of ``alerts[]``."""

    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str  # camelCase fields keep Alertmanager's wire names
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = Field(min_length=1)


class AlertmanagerPayload(BaseModel):
    """The webhook body Alertmanager POSTs (and a Kafka bridge forwards unchanged)."""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AlertmanagerAlert]


def decode_alertmanager(raw: bytes, ref: str = "") -> list[AlertEvent]:
    """Decode one webhook payload into one event per alert.

    >>> body = (b'{"version":"4","status":"firing","alerts":[{"status":"firing",'
    ...         b'"labels":{"alertname":"HighLatency"},"startsAt":"2026-11-25T10:00:00Z",'
    ...         b'"endsAt":"0001-01-01T00:00:00Z","fingerprint":"a1b2c3d4e5f60718"}]}')
    >>> [(a.fingerprint, a.status, a.ends_ns) for a in decode_alertmanager(body)]
    [('a1b2c3d4e5f60718', 'firing', None)]
    """
    doc: Any = jsoncodec.loads(raw)
    try:
        payload = AlertmanagerPayload.model_validate(doc)
    except ValidationError as exc:
        raise DecodeError(f"alertmanager payload: {_first_error(exc)}") from None
    return [_event(alert, payload.receiver, ref) for alert in payload.alerts]


def _event(alert: AlertmanagerAlert, receiver: str, ref: str) -> AlertEvent:
    ends_ns = None if is_zero_time(alert.endsAt) else parse_rfc3339_ns(alert.endsAt)
    if alert.status == "firing":
        # While firing, Alertmanager sets endsAt to a provisional timeout; it is not an end.
        ends_ns = None
    return AlertEvent(
        fingerprint=alert.fingerprint,
        status=alert.status,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_ns=parse_rfc3339_ns(alert.startsAt),
        ends_ns=ends_ns,
        generator_url=alert.generatorURL,
        receiver=receiver,
        ref=ref,
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "payload"
    return f"{where}: {err['msg']}"
