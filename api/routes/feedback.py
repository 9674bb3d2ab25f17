"""``/api/v1/feedback``: verdicts on alert fingerprints and series (incidents have their own)."""

from typing import Annotated, Any

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.feedback_out import send_feedback
from alertflow.api.models import FeedbackAccepted, problem
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.feedback import FeedbackMessage, feedback_from_document
from alertflow.store.tokens import TokenOwner
from fastapi import APIRouter, Depends, HTTPException

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])


@router.post(
    "",
    response_model=FeedbackAccepted,
    status_code=202,
    responses={422: problem("not a feedback message"), 503: problem("the flow's intake is full")},
)
async def feedback(
    body: FeedbackMessage,
    ctx: Annotated[ApiContext, Depends(context)],
    owner: Annotated[TokenOwner, Depends(require("act"))],
) -> dict[str, Any]:
    """A verdict on an incident id, an alert fingerprint or a series key.

    ``by`` is recorded as given, after the token's name (``token/by``).
    """
    try:
        event = feedback_from_document(body.model_dump())
    except DecodeError as exc:
        raise HTTPException(422, exc.reason) from None
    by = f"{owner.name}/{event.by}"
    return await send_feedback(ctx, event.target, event.verdict, by, event.at_ns, event.severity)
