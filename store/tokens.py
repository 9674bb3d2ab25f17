"""API tokens: random, shown once, kept only as SHA-256 hashes; scopes read < act < admin."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from alertflow.store import tables as t
from alertflow.store.writer import insert_ignoring

Scope = Literal["read", "act", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "act", "admin")


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who a presented token belongs to."""

    id: str
    name: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        """Each scope includes the ones before it: admin can act, act can read.

        >>> ci = TokenOwner("1", "ci", "act")
        >>> ci.allows("read"), ci.allows("admin")
        (True, False)
        """
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def token_hash(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: sa.Engine, name: str, scope: Scope) -> tuple[str, str]:
    """A new token for ``name``: returns (id, token); the token is not stored."""
    token = "af_" + secrets.token_urlsafe(32)
    token_id = _add(engine, name, scope, token)
    return token_id, token


def seed_token(engine: sa.Engine, token: str, name: str = "admin (environment)") -> None:
    """Make ``token`` (from ALERTFLOW_ADMIN_TOKEN) an admin token; a second start keeps one row."""
    _add(engine, name, "admin", token)


def _add(engine: sa.Engine, name: str, scope: Scope, token: str) -> str:
    digest = token_hash(token)
    token_id = digest[:16]
    row = {"id": token_id, "name": name, "scope": scope, "token_hash": digest,
           "created_ns": time.time_ns(), "revoked": False}
    with engine.begin() as conn:
        insert_ignoring(conn, t.api_tokens, [row])
    return token_id


def owner_of(engine: sa.Engine, token: str) -> TokenOwner | None:
    """The owner of a presented token, or None if unknown or revoked."""
    c = t.api_tokens.c
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(c.id, c.name, c.scope).where(
                c.token_hash == token_hash(token), c.revoked.is_(False)
            )
        ).first()
    return None if row is None else TokenOwner(row.id, row.name, row.scope)


def list_tokens(engine: sa.Engine) -> list[dict[str, object]]:
    """Every token's id, name, scope and state (never the token)."""
    c = t.api_tokens.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.id, c.name, c.scope, c.created_ns, c.revoked).order_by(c.created_ns)
        ).mappings()
        return [dict(r) for r in rows]


def revoke_token(engine: sa.Engine, token_id: str) -> bool:
    """Revoke a token by id; False if there is none."""
    with engine.begin() as conn:
        done = conn.execute(
            t.api_tokens.update().where(t.api_tokens.c.id == token_id).values(revoked=True)
        )
        return done.rowcount > 0
