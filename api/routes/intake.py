"""Intake over HTTP: Alertmanager's webhook and generic JSON events, validated like Kafka's.

A body the stream's decoder rejects gets 422 with the decoder's reason, and the
same dead-letter record the flow writes for a bad Kafka message. A valid one is
queued for the flow as it came (the flow decodes it, as it decodes Kafka's), or
refused with 503 and Retry-After when the flow is behind.
"""

import time
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from alertflow.api.deps import BEARER, ApiContext, authorize, context, require
from alertflow.api.feedback_out import full
from alertflow.api.intake import IntakeFull
from alertflow.api.models import IntakeAccepted, problem
from alertflow.operators.intake import dead_letter
from alertflow.schemas import jsoncodec
from alertflow.schemas.alertmanager import AlertmanagerPayload
from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError
from alertflow.store import tables as t
from alertflow.store.tokens import TokenOwner
from alertflow.store.writer import StoreWriter
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/v1", tags=["intake"])
Ctx = Annotated[ApiContext, Depends(context)]
_REFUSALS = {
    413: problem("larger than intake.max_message_bytes (and dead-lettered)"),
    422: problem("the decoder's reason (and dead-lettered)"),
    503: problem("the flow is behind: retry after Retry-After seconds"),
}
EventStream = Literal["metrics", "logs", "traces"]


@router.post(
    "/alerts/alertmanager",
    response_model=IntakeAccepted,
    status_code=202,
    responses=_REFUSALS,
    openapi_extra={
        **BEARER,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AlertmanagerPayload.model_json_schema()}},
        },
    },
)
async def alertmanager(request: Request) -> Response:
    """Alertmanager's webhook (``webhook_configs``): one version-4 payload per request."""
    # No injected dependencies and a ready Response: each would cost as much as the
    # queueing (bench/api.py), and one Alertmanager sends thousands a second.
    ctx, _owner = await authorize(request, "act")
    return await _take(ctx, "alerts", await request.body())


@router.post(
    "/events/{stream}",
    response_model=IntakeAccepted,
    status_code=202,
    responses=_REFUSALS,
    openapi_extra={
        **BEARER, "requestBody": {"required": True, "content": {"application/json": {}}}
    },
)
async def events(stream: EventStream, request: Request) -> Response:
    """One message as the flow's ``stream`` input takes it.

    metrics: prometheus-kafka-adapter JSON or OTLP JSON metrics; logs: a JSON line
    ``{timestamp, service, level, message}`` or OTLP JSON logs; traces: OTLP JSON.
    """
    ctx, _owner = await authorize(request, "act")
    return await _take(ctx, stream, await request.body())


async def _take(ctx: ApiContext, stream: str, raw: bytes) -> Response:
    if stream not in ctx.intake.streams():
        raise HTTPException(404, f"this server takes no {stream} (not an input of its flow)")
    if len(raw) > ctx.max_message_bytes:
        reason = f"message of {len(raw)} bytes is larger than {ctx.max_message_bytes}"
        await run_in_threadpool(_dead_letter, ctx, stream, raw, reason)
        raise HTTPException(413, reason)
    try:
        records = decode_stream(stream, raw, "http")
    except DecodeError as exc:
        await run_in_threadpool(_dead_letter, ctx, stream, raw, exc.reason)
        raise HTTPException(422, exc.reason) from None
    except RecursionError:
        await run_in_threadpool(_dead_letter, ctx, stream, raw, "JSON nested too deeply")
        raise HTTPException(422, "JSON nested too deeply") from None
    try:
        ctx.intake.offer(stream, raw)
    except IntakeFull as exc:
        raise full(exc) from None
    body = {"stream": stream, "messages": 1, "records": len(records)}  # IntakeAccepted
    return Response(jsoncodec.dumps(body), 202, media_type="application/json")


def _dead_letter(ctx: ApiContext, stream: str, raw: bytes, reason: str) -> None:
    # The offset makes each refused request its own record (two identical bad bodies are two).
    decision = dead_letter(stream, f"http/{stream}", None, time.time_ns(), raw, reason)
    StoreWriter(ctx.engine).write([("dlq", decision.record.model_dump(mode="json"))])


@router.get("/dead-letters", tags=["intake"])
def dead_letters(
    ctx: Ctx,
    _owner: Annotated[TokenOwner, Depends(require("read"))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """The newest dead letters: input that was refused, with the reason."""
    c = t.dead_letters.c
    with ctx.engine.connect() as conn:
        docs = conn.execute(
            sa.select(c.doc).order_by(c.received_ns.desc(), c.id).limit(limit)
        ).scalars()
        return [jsoncodec.loads(doc) for doc in docs]
