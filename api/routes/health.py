"""``/healthz``: 200 once the flow is running, 503 before and after."""

from typing import Annotated, Any

from alertflow.api.deps import ApiContext, context
from alertflow.api.models import Health
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(ctx: Annotated[ApiContext, Depends(context)]) -> Any:
    """Unauthenticated, for probes: 200 when the flow runs."""
    running = ctx.flow_running.is_set()
    body = Health(status="ok" if running else "starting", flow=running, store=ctx.store_kind)
    return JSONResponse(body.model_dump(), status_code=200 if running else 503)
