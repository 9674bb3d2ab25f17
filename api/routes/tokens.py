"""``/api/v1/tokens``: admin-only token management (tokens are shown once, kept hashed)."""

from typing import Annotated, Any

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.models import TokenCreate, TokenCreated, TokenInfo, problem
from alertflow.store.tokens import TokenOwner, create_token, list_tokens, revoke_token
from fastapi import APIRouter, Depends, HTTPException

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
Ctx = Annotated[ApiContext, Depends(context)]
Admin = Annotated[TokenOwner, Depends(require("admin"))]


@router.post("", response_model=TokenCreated, status_code=201)
def create(body: TokenCreate, ctx: Ctx, _owner: Admin) -> dict[str, Any]:
    """A new token; its value is in this answer only."""
    token_id, token = create_token(ctx.engine, body.name, body.scope)
    return {"id": token_id, "name": body.name, "scope": body.scope, "token": token}


@router.get("", response_model=list[TokenInfo])
def tokens(ctx: Ctx, _owner: Admin) -> list[dict[str, Any]]:
    """Every token's id, name, scope and whether it is revoked."""
    return list_tokens(ctx.engine)


@router.delete("/{token_id}", status_code=204, responses={404: problem("no such token")})
def revoke(token_id: str, ctx: Ctx, _owner: Admin) -> None:
    """Revoke a token (other servers' caches let it work for up to 5 s more)."""
    if not revoke_token(ctx.engine, token_id):
        raise HTTPException(404, f"no token {token_id!r}")
    ctx.forget_tokens()
