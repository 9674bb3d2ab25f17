"""Operator feedback: a verdict on an incident, an alert fingerprint or a series."""

from typing import Any, Literal

from alertflow.schemas import jsoncodec
from alertflow.schemas._eventtime import event_time_ns
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.outputs import Severity
from alertflow.schemas.records import FeedbackEvent
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

Verdict = Literal["true_positive", "false_positive", "noise"]


class FeedbackMessage(BaseModel):
    """One feedback message as operators' tools send it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    target: StrictStr = Field(
        min_length=1, description="An incident_id, an alert fingerprint or a series key."
    )
    verdict: Verdict
    severity: Severity | None = Field(
        default=None, description="The severity the operator thinks is right, if any."
    )
    by: StrictStr = Field(min_length=1, description="Who gave the verdict.")
    at: StrictStr | StrictInt | StrictFloat = Field(
        description="When: RFC 3339, or epoch seconds, milliseconds or nanoseconds."
    )


def decode_feedback(raw: bytes, ref: str = "") -> list[FeedbackEvent]:
    """Decode one feedback message.

    >>> decode_feedback(b'{"target":"inc-7f3a","verdict":"noise","by":"alice",'
    ...                 b'"at":"2026-11-25T10:00:00Z"}')[0].at_ns
    1795600800000000000
    """
    return [feedback_from_document(jsoncodec.loads(raw), ref)]


def feedback_from_document(doc: Any, ref: str = "") -> FeedbackEvent:
    """Validate an already-parsed feedback message and turn it into an event."""
    try:
        message = FeedbackMessage.model_validate(doc)
    except ValidationError as exc:
        raise DecodeError(f"feedback: {_first_error(exc)}") from None
    return FeedbackEvent(
        target=message.target,
        verdict=message.verdict,
        by=message.by,
        at_ns=event_time_ns(message.at, "feedback field 'at'"),
        severity=message.severity,
        ref=ref,
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in err["loc"]) or "message"
    return f"{where}: {err['msg']}"
