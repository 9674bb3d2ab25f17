"""``/api/v1/anomalies`` and ``/api/v1/predictions``: stored records, newest first."""

from typing import Annotated, Any

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.models import problem
from alertflow.api.timeparam import time_ns_param
from alertflow.schemas.outputs import Anomaly
from alertflow.store.engine import StoreError
from alertflow.store.records import Kind, get_records, list_records
from alertflow.store.tokens import TokenOwner
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

router = APIRouter(prefix="/api/v1", tags=["records"])
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[TokenOwner, Depends(require("read"))]


class AnomalyPage(BaseModel):
    """A page of anomalies, newest first; pass ``next_cursor`` as ``cursor`` for more."""

    items: list[Anomaly]
    next_cursor: str | None


class PredictionPage(BaseModel):
    """A page of predictions (records as the flow wrote them), newest first."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def _page(
    ctx: ApiContext, kind: Kind, ids: list[str] | None, series: str | None, from_: str | None,
    to: str | None, limit: int, cursor: str | None,
) -> dict[str, Any]:
    if ids:
        return {"items": get_records(ctx.engine, kind, ids[:500]), "next_cursor": None}
    try:
        items, following = list_records(
            ctx.engine, kind, series, time_ns_param(from_, "from"), time_ns_param(to, "to"),
            limit, cursor,
        )
    except StoreError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"items": items, "next_cursor": following}


Ids = Annotated[
    list[str] | None,
    Query(description="Only these ids (an incident's anomaly members); then no paging"),
]
When = Annotated[str | None, Query(description="RFC 3339 or epoch")]


@router.get("/anomalies", response_model=AnomalyPage, responses={400: problem("bad filter")})
def anomalies(
    ctx: Ctx,
    _owner: Reader,
    id: Ids = None,
    series: Annotated[str | None, Query(max_length=2000)] = None,
    from_: Annotated[str | None, Query(alias="from", description="RFC 3339 or epoch")] = None,
    to: When = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Stored anomalies, newest first; ``from``/``to`` on their event time."""
    return _page(ctx, "anomalies", id, series, from_, to, limit, cursor)


@router.get("/predictions", response_model=PredictionPage, responses={400: problem("bad filter")})
def predictions(
    ctx: Ctx,
    _owner: Reader,
    id: Ids = None,
    series: Annotated[str | None, Query(max_length=2000)] = None,
    from_: Annotated[str | None, Query(alias="from", description="RFC 3339 or epoch")] = None,
    to: When = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Stored predictions, newest first."""
    return _page(ctx, "predictions", id, series, from_, to, limit, cursor)
