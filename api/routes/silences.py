"""``/api/v1/silences``: list, create and expire the silences the running flow applies.

They live in the JSON file ``notify.silences_file`` names (``alertflow silence`` edits the
same file); the flow re-reads it when it changes, so a silence set here holds back
notifications within about a second. Incidents are recorded either way.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.models import problem
from alertflow.api.silence_file import SilenceFile
from alertflow.operators.delivery.errors import DeliveryConfigError
from alertflow.operators.delivery.matchers import Matcher
from alertflow.operators.delivery.silences import Silence
from alertflow.schemas.config_notify import SilenceConfig
from alertflow.store.tokens import TokenOwner
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])
Reader = Annotated[TokenOwner, Depends(require("read"))]
Actor = Annotated[TokenOwner, Depends(require("act"))]
Ctx = Annotated[ApiContext, Depends(context)]
DEFAULT_DURATION_S = 2 * 3600.0
_NO_FILE = {503: problem("this server has no silences file")}


class SilenceBody(BaseModel):
    """A new silence: matchers, and when it ends (``ends_at`` or ``duration_s``; default 2 h)."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[Annotated[str, Field(max_length=1000)]] = Field(
        min_length=1, max_length=50, description="e.g. service=api, severity!=info, team=~db.*")
    starts_at: AwareDatetime | None = Field(None, description="RFC 3339 (default: now)")
    ends_at: AwareDatetime | None = Field(None, description="RFC 3339, after starts_at")
    duration_s: float | None = Field(None, gt=0, le=366 * 86400,
                                     description="From starts_at, when ends_at is not given")
    comment: str = Field("", max_length=2000)


class SilenceOut(BaseModel):
    """A silence as stored, with its state now."""

    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: Literal["active", "pending", "expired"]


class SilenceList(BaseModel):
    """Silences, in the file's order."""

    silences: list[SilenceOut]


_files: dict[Path, SilenceFile] = {}  # one per path: its lock orders this process's writes


def _file(ctx: ApiContext) -> SilenceFile:
    if ctx.silences_file is None:
        raise HTTPException(503, "no silences file: set notify.silences_file")
    return _files.setdefault(ctx.silences_file, SilenceFile(ctx.silences_file))


def _out(silence: Silence, now: datetime) -> SilenceOut:
    state = ("expired" if silence.ends_at <= now
             else "pending" if silence.starts_at > now else "active")
    return SilenceOut(
        id=silence.id, matchers=[f"{m.name}{m.op}{m.value}" for m in silence.matchers],
        starts_at=silence.starts_at, ends_at=silence.ends_at, created_by=silence.created_by,
        comment=silence.comment, state=state,
    )


@router.get("", response_model=SilenceList, responses=_NO_FILE)
async def silences(
    ctx: Ctx,
    _owner: Reader,
    expired: Annotated[bool, Query(description="Include expired silences")] = False,
) -> SilenceList:
    """Silences in force or to come (and expired ones with ``expired=true``)."""
    file = _file(ctx)
    try:
        entries = await run_in_threadpool(file.entries)
    except DeliveryConfigError as exc:
        raise HTTPException(500, str(exc)) from None
    now = datetime.now(UTC)
    listed = [_out(s, now) for _, s in entries]
    return SilenceList(silences=[s for s in listed if expired or s.state != "expired"])


@router.post("", response_model=SilenceOut, status_code=201,
             responses={**_NO_FILE, 400: problem("a bad matcher or time range")})
async def create(body: SilenceBody, ctx: Ctx, owner: Actor) -> SilenceOut:
    """Hold back matching notifications from ``starts_at`` until ``ends_at``."""
    file = _file(ctx)
    starts = body.starts_at or datetime.now(UTC)
    ends = body.ends_at or starts + timedelta(seconds=body.duration_s or DEFAULT_DURATION_S)
    try:
        for text in body.matchers:
            Matcher.parse(text)
        config = SilenceConfig(matchers=body.matchers, starts_at=starts, ends_at=ends,
                               created_by=owner.name, comment=body.comment)
        silence = await run_in_threadpool(file.add, config)
    except DeliveryConfigError as exc:
        raise HTTPException(400, str(exc)) from None
    except ValidationError as exc:
        raise HTTPException(400, "; ".join(e["msg"] for e in exc.errors())) from None
    return _out(silence, datetime.now(UTC))


@router.delete("/{silence_id}", response_model=SilenceOut,
               responses={**_NO_FILE, 404: problem("no silence with this id")})
async def expire(silence_id: str, ctx: Ctx, _owner: Actor) -> SilenceOut:
    """Expire a silence now (it stays listed with ``expired=true``)."""
    silence = await run_in_threadpool(_file(ctx).expire, silence_id)
    if silence is None:
        raise HTTPException(404, f"no silence {silence_id!r}")
    return _out(silence, datetime.now(UTC))
