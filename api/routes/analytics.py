"""Alert analytics: ``/api/v1/analytics/alerts`` (JSON) and ``/metrics`` (Prometheus text)."""

import time
from typing import Annotated, Any

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.metrics import prometheus_text
from alertflow.api.models_analytics import AlertAnalyticsReport
from alertflow.api.timeparam import time_ns_param
from alertflow.store.analytics import DAY_NS, alert_analytics
from alertflow.store.tokens import TokenOwner
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

router = APIRouter(tags=["analytics"])
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[TokenOwner, Depends(require("read"))]
When = Annotated[str | None, Query(description="RFC 3339 or epoch")]
Team = Annotated[
    str | None,
    Query(max_length=256, description="Only this team's alerts and incidents ('unassigned' too)"),
]


def _range(from_: str | None, to: str | None, days: int) -> tuple[int, int]:
    end = time_ns_param(to, "to") or time.time_ns()
    start = time_ns_param(from_, "from")
    return (end - days * DAY_NS if start is None else start), end


@router.get("/api/v1/analytics/alerts", response_model=AlertAnalyticsReport)
def alerts(
    ctx: Ctx,
    _owner: Reader,
    from_: Annotated[str | None, Query(alias="from", description="RFC 3339 or epoch")] = None,
    to: When = None,
    days: Annotated[int, Query(ge=1, le=366, description="Range when from is not given")] = 7,
    team: Team = None,
) -> dict[str, Any]:
    """Per rule, service and team: volume, flapping, share absorbed, MTTA/MTTR; trends."""
    start, end = _range(from_, to, days)
    return alert_analytics(ctx.engine, start, end, ctx.analytics, team).as_dict()


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(
    ctx: Ctx,
    _owner: Reader,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
) -> Response:
    """The last ``days`` of alert analytics as Prometheus metrics (scrape with a read token)."""
    start, end = _range(None, None, days)
    body = prometheus_text(alert_analytics(ctx.engine, start, end, ctx.analytics).as_dict())
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
