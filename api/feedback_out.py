"""A verdict's way out: to the flow (as a ``feedback`` message) and into the store."""

from typing import Any

from alertflow.api.deps import ApiContext
from alertflow.api.intake import IntakeFull
from alertflow.schemas import jsoncodec
from alertflow.schemas.feedback import FeedbackMessage
from alertflow.schemas.timefmt import format_ns
from alertflow.store.incidents import record_feedback
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

RETRY_AFTER_S = 1


def full(exc: IntakeFull) -> HTTPException:
    """The answer when the flow is behind: 503 and when to retry."""
    return HTTPException(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)})


async def send_feedback(
    ctx: ApiContext, target: str, verdict: str, by: str, at_ns: int, severity: str | None
) -> dict[str, Any]:
    """Hand the verdict to the flow first (it may refuse when full), then keep it."""
    message = FeedbackMessage(
        target=target, verdict=verdict, by=by, at=format_ns(at_ns), severity=severity
    )
    if "feedback" in ctx.intake.streams():
        try:
            ctx.intake.offer("feedback", jsoncodec.dumps(message.model_dump(exclude_none=True)))
        except IntakeFull as exc:
            raise full(exc) from None
    feedback_id = await run_in_threadpool(
        record_feedback, ctx.engine, target, verdict, by, at_ns, severity
    )
    return {"id": feedback_id, "target": target, "verdict": verdict, "by": by,
            "at": message.at}
