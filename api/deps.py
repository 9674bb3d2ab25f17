"""What every route is handed: the store, the intake channel, the caller's token."""

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alertflow.api.intake import IntakeChannel
from alertflow.schemas.config_analytics import AnalyticsConfig
from alertflow.store.tokens import Scope, TokenOwner, owner_of, token_hash
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

TOKEN_CACHE_S = 5.0  # a revoked token stops working within this long


@dataclass
class ApiContext:
    """The app's collaborators, kept on ``app.state.ctx``."""

    engine: sa.Engine
    intake: IntakeChannel
    flow_running: threading.Event = field(default_factory=threading.Event)
    store_kind: str = "sqlite"
    max_message_bytes: int = 1 << 20
    silences_file: Path | None = None  # notify.silences_file: /api/v1/silences edits it
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)  # teams of services
    _owners: dict[str, tuple[TokenOwner | None, float]] = field(default_factory=dict)

    async def owner(self, token: str) -> TokenOwner | None:
        """The token's owner, looked up at most every TOKEN_CACHE_S per token.

        The webhook receiver takes thousands of requests a second from one
        Alertmanager: a store query on each would cost more than the work itself.
        """
        key = token_hash(token)
        now = time.monotonic()
        cached = self._owners.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await run_in_threadpool(owner_of, self.engine, token)
        if len(self._owners) > 10_000:  # unknown tokens must not grow it without bound
            self._owners.clear()
        self._owners[key] = (found, now + TOKEN_CACHE_S)
        return found

    def forget_tokens(self) -> None:
        """Drop cached lookups (after a token is revoked here)."""
        self._owners.clear()


async def context(request: Request) -> ApiContext:
    """The app's :class:`ApiContext`.

    ``async`` though it awaits nothing: FastAPI runs a plain ``def`` dependency in its
    thread pool, a thread hand-off on every request (the intake's largest cost).
    """
    return request.app.state.ctx


_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer TOKEN`.")


def require(scope: Scope) -> Callable[..., Awaitable[TokenOwner]]:
    """A dependency that admits tokens holding ``scope`` (admin ⊇ act ⊇ read)."""

    async def check(
        ctx: ApiContext = Depends(context),  # noqa: B008 - FastAPI's dependency idiom
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> TokenOwner:
        return await admit(ctx, None if credentials is None else credentials.credentials, scope)

    return check


async def authorize(request: Request, scope: Scope) -> tuple[ApiContext, TokenOwner]:
    """What :func:`require` does, called from a route instead of injected.

    The webhook routes use it: FastAPI's dependency solving cost as much as the rest
    of the request (bench/api.py). Their OpenAPI entry declares :data:`BEARER` itself.
    """
    ctx: ApiContext = request.app.state.ctx
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    usable = scheme.lower() == "bearer" and token.strip()
    return ctx, await admit(ctx, token.strip() if usable else None, scope)


BEARER = {"security": [{"HTTPBearer": []}]}
"""The OpenAPI security requirement :func:`require` adds, for routes using :func:`authorize`."""


async def admit(ctx: ApiContext, token: str | None, scope: Scope) -> TokenOwner:
    """The owner of ``token`` if it holds ``scope``; 401 or 403 otherwise."""
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing token: send Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    owner = await ctx.owner(token)
    if owner is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not owner.allows(scope):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"token {owner.name!r} has scope {owner.scope!r}; this needs {scope!r}",
        )
    return owner
