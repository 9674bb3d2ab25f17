"""Request and response bodies: the ``schemas.outputs`` models, extended with operator state."""

from typing import Any, Literal

from alertflow.schemas.feedback import Verdict
from alertflow.schemas.outputs import Incident, Severity
from pydantic import BaseModel, ConfigDict, Field


class IncidentState(Incident):
    """An incident's latest version and what operators did to it."""

    acknowledged_at: str | None = Field(None, description="First acknowledgement, wall time.")
    acknowledged_by: str | None = None
    operator_resolved_at: str | None = Field(
        None, description="When an operator resolved it (the flow resolves on its own too)."
    )
    operator_resolved_by: str | None = None


class IncidentAction(BaseModel):
    """One thing an operator did to an incident."""

    action: Literal["acknowledge", "resolve", "verdict"]
    by: str
    at: str
    note: str


class IncidentDetail(IncidentState):
    """One incident with its timeline (every version, oldest first) and operators' actions."""

    timeline: list[Incident]
    actions: list[IncidentAction]


class IncidentPage(BaseModel):
    """A page of incidents, newest opened first; pass ``next_cursor`` as ``cursor`` for more."""

    items: list[IncidentState]
    next_cursor: str | None


class ActionBody(BaseModel):
    """An acknowledgement or resolution."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2000)


class VerdictBody(BaseModel):
    """An operator's verdict on an incident; it becomes a ``feedback`` record for the flow."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    severity: Severity | None = Field(None, description="The severity the operator thinks right.")
    note: str = Field("", max_length=2000)


class FeedbackAccepted(BaseModel):
    """A verdict kept in the store and handed to the flow."""

    id: str
    target: str
    verdict: Verdict
    by: str
    at: str


class IntakeAccepted(BaseModel):
    """A message handed to the flow."""

    stream: str
    messages: int = Field(description="Messages queued for the flow.")
    records: int = Field(description="Records they decode into (alerts in a payload).")


class Problem(BaseModel):
    """Why a request was refused: a sentence, or FastAPI's list of invalid parameters."""

    detail: str | list[dict[str, Any]]


class TokenCreate(BaseModel):
    """A token to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    scope: Literal["read", "act", "admin"]


class TokenCreated(BaseModel):
    """The new token: shown once, only its hash is kept."""

    id: str
    name: str
    scope: str
    token: str


class TokenInfo(BaseModel):
    """A token's id, owner and state, never the token."""

    id: str
    name: str
    scope: str
    created_ns: int
    revoked: bool


class Health(BaseModel):
    """Whether the flow is running."""

    status: Literal["ok", "starting", "stopped"]
    flow: bool
    store: str


def problem(detail: str) -> dict[str, Any]:
    """The OpenAPI description of an error answer."""
    return {"model": Problem, "description": detail}
