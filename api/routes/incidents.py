"""``/api/v1/incidents``: list, one incident, acknowledge, resolve, verdict."""

import time
from typing import Annotated, Any

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.feedback_out import send_feedback
from alertflow.api.models import (
    ActionBody,
    FeedbackAccepted,
    IncidentDetail,
    IncidentPage,
    IncidentState,
    VerdictBody,
    problem,
)
from alertflow.api.timeparam import time_ns_param
from alertflow.schemas.outputs import Severity
from alertflow.store.engine import StoreError
from alertflow.store.incidents import (
    IncidentFilter,
    get_incident,
    list_incidents_json,
    record_action,
)
from alertflow.store.tokens import TokenOwner
from fastapi import APIRouter, Depends, HTTPException, Query, Response
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
Reader = Annotated[TokenOwner, Depends(require("read"))]
Actor = Annotated[TokenOwner, Depends(require("act"))]
Ctx = Annotated[ApiContext, Depends(context)]
_NOT_FOUND = {404: problem("no incident with this id")}


@router.get("", response_model=IncidentPage, responses={400: problem("a bad filter or cursor")})
def incidents(
    ctx: Ctx,
    _owner: Reader,
    status: Annotated[str | None, Query(pattern="^(open|updated|resolved)$")] = None,
    service: Annotated[str | None, Query(max_length=256)] = None,
    severity: Severity | None = None,
    from_: Annotated[str | None, Query(alias="from", description="RFC 3339 or epoch")] = None,
    to: Annotated[str | None, Query(description="RFC 3339 or epoch")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Current incidents, newest opened first; ``from``/``to`` keep those active in the range."""
    where = IncidentFilter(
        status=status,
        service=service,
        severity=severity,
        from_ns=time_ns_param(from_, "from"),
        to_ns=time_ns_param(to, "to"),
    )
    try:
        body = list_incidents_json(ctx.engine, where, limit, cursor)
    except StoreError as exc:
        raise HTTPException(400, str(exc)) from None
    # Stored documents were written from the output models: sent as stored, not re-validated
    # (tests check the answer against IncidentPage).
    return Response(body, media_type="application/json")


@router.get("/{incident_id}", response_model=IncidentDetail, responses=_NOT_FOUND)
def incident(incident_id: str, ctx: Ctx, _owner: Reader) -> dict[str, Any]:
    """One incident: members, root causes with evidence, timeline of versions, actions."""
    detail = get_incident(ctx.engine, incident_id)
    if detail is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return detail


@router.post("/{incident_id}/acknowledge", response_model=IncidentState, responses=_NOT_FOUND)
def acknowledge(
    incident_id: str, ctx: Ctx, owner: Actor, body: ActionBody | None = None
) -> dict[str, Any]:
    """Acknowledge: the first acknowledgement's time is the incident's MTTA sample."""
    return _act(ctx, incident_id, "acknowledge", owner, body)


@router.post("/{incident_id}/resolve", response_model=IncidentState, responses=_NOT_FOUND)
def resolve(
    incident_id: str, ctx: Ctx, owner: Actor, body: ActionBody | None = None
) -> dict[str, Any]:
    """Resolve by hand: the first resolution's time is the incident's MTTR sample."""
    return _act(ctx, incident_id, "resolve", owner, body)


def _act(
    ctx: ApiContext, incident_id: str, action: str, owner: TokenOwner, body: ActionBody | None
) -> dict[str, Any]:
    state = record_action(ctx.engine, incident_id, action, owner.name, body.note if body else "")
    if state is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return state


@router.post(
    "/{incident_id}/verdict",
    response_model=FeedbackAccepted,
    status_code=202,
    responses={**_NOT_FOUND, 503: problem("the flow's intake is full: retry after Retry-After")},
)
async def verdict(incident_id: str, body: VerdictBody, ctx: Ctx, owner: Actor) -> dict[str, Any]:
    """Give a verdict: kept in the store and sent to the flow as a ``feedback`` record."""
    state = await run_in_threadpool(
        record_action, ctx.engine, incident_id, "verdict", owner.name, body.note
    )
    if state is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return await send_feedback(
        ctx, incident_id, body.verdict, owner.name, time.time_ns(), body.severity
    )
