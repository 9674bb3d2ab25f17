"""The FastAPI app: one router per resource, the store and intake handed in."""

from alertflow.api.deps import ApiContext
from alertflow.api.fast_intake import IntakeFastPath
from alertflow.api.graphql import graphql_router
from alertflow.api.routes import (
    analytics,
    console,
    exports,
    feedback,
    health,
    incidents,
    intake,
    records,
    silences,
    tokens,
)
from fastapi import FastAPI

DESCRIPTION = """\
alertflow's HTTP side: Alertmanager webhook and JSON event intake, incidents with their
timeline, acknowledgements, resolutions and verdicts, alert analytics, exports. Every route
but `/healthz` needs `Authorization: Bearer TOKEN`; scopes: read < act < admin.
`ALERTFLOW_ADMIN_TOKEN` seeds an admin token at start; there is no default token.
"""


def create_app(ctx: ApiContext) -> FastAPI:
    """An app serving ``ctx``'s store and feeding ``ctx``'s intake channel."""
    app = FastAPI(title="alertflow", version="1", description=DESCRIPTION)
    app.state.ctx = ctx
    # intake first: Starlette tries routes in order, and the webhook is the busiest path
    for module in (intake, health, incidents, records, feedback, analytics, exports, tokens,
                   silences, console):
        app.include_router(module.router)
    app.include_router(graphql_router())
    app.add_middleware(IntakeFastPath, ctx=ctx)  # accepted intake skips the routing
    return app
