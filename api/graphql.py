"""``POST /graphql``: the incidents, analytics and operator actions of the REST side.

Types come from the same pydantic models (:mod:`alertflow.api.graphql_types`).
Queries need a read token; mutations an act token.
"""

import time
from typing import Annotated, Any

import strawberry
from alertflow.api.deps import ApiContext, context, require
from alertflow.api.feedback_out import send_feedback
from alertflow.api.graphql_types import graphql_type, to_graphql
from alertflow.api.models import IncidentDetail, IncidentState
from alertflow.api.models_analytics import AlertAnalyticsReport
from alertflow.api.timeparam import time_ns_param
from alertflow.store.analytics import DAY_NS, alert_analytics
from alertflow.store.engine import StoreError
from alertflow.store.incidents import IncidentFilter, get_incident, list_incidents, record_action
from alertflow.store.tokens import TokenOwner
from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.scalars import JSON

IncidentStateType = graphql_type(IncidentState)
IncidentDetailType = graphql_type(IncidentDetail)
AlertAnalyticsType = graphql_type(AlertAnalyticsReport)


class Context(BaseContext):
    """The API context and the caller."""

    def __init__(self, api: ApiContext, owner: TokenOwner) -> None:
        super().__init__()
        self.api = api
        self.owner = owner


@strawberry.type
class IncidentConnection:
    """A page of incidents, newest opened first; pass ``nextCursor`` as ``after`` for more."""

    items: list[IncidentStateType]  # type: ignore[valid-type]
    next_cursor: str | None


def _ctx(info: strawberry.Info) -> Context:
    return info.context


@strawberry.type
class Query:
    """What a read token may ask."""

    @strawberry.field(description="Current incidents, newest opened first.")
    def incidents(
        self,
        info: strawberry.Info,
        status: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        from_: Annotated[str | None, strawberry.argument(name="from")] = None,
        to: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> IncidentConnection:
        """A page of incidents."""
        where = IncidentFilter(status, service, severity, _when(from_, "from"), _when(to, "to"))
        try:
            items, following = list_incidents(
                _ctx(info).api.engine, where, max(1, min(first, 500)), after
            )
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        return IncidentConnection(
            items=[to_graphql(IncidentState, i) for i in items], next_cursor=following
        )

    @strawberry.field(description="One incident with its timeline and operators' actions.")
    def incident(
        self, info: strawberry.Info, id: str
    ) -> IncidentDetailType | None:  # type: ignore[valid-type]
        """One incident."""
        detail = get_incident(_ctx(info).api.engine, id)
        return None if detail is None else to_graphql(IncidentDetail, detail)

    @strawberry.field(
        description="Alert analytics of the last `days`, of one `team` when given "
        "(see /api/v1/analytics/alerts)."
    )
    def alert_analytics(
        self, info: strawberry.Info, days: int = 7, team: str | None = None
    ) -> AlertAnalyticsType:  # type: ignore[valid-type]
        """Alert analytics per rule, service and team."""
        api = _ctx(info).api
        end = time.time_ns()
        found = alert_analytics(api.engine, end - days * DAY_NS, end, api.analytics, team)
        return to_graphql(AlertAnalyticsReport, found.as_dict())


def _when(value: str | None, name: str) -> int | None:
    try:
        return time_ns_param(value, name)
    except Exception as exc:  # an HTTPException from the REST helper: a GraphQL error here
        raise ValueError(getattr(exc, "detail", str(exc))) from None


def _actor(info: strawberry.Info) -> TokenOwner:
    owner = _ctx(info).owner
    if not owner.allows("act"):
        raise PermissionError(f"token {owner.name!r} has scope {owner.scope!r}; this needs 'act'")
    return owner


@strawberry.type
class Mutation:
    """What an act token may do."""

    @strawberry.mutation(description="Acknowledge an incident.")
    def acknowledge(
        self, info: strawberry.Info, id: str, note: str = ""
    ) -> IncidentStateType | None:  # type: ignore[valid-type]
        """Acknowledge."""
        state = record_action(_ctx(info).api.engine, id, "acknowledge", _actor(info).name, note)
        return None if state is None else to_graphql(IncidentState, state)

    @strawberry.mutation(description="Resolve an incident by hand.")
    def resolve(
        self, info: strawberry.Info, id: str, note: str = ""
    ) -> IncidentStateType | None:  # type: ignore[valid-type]
        """Resolve."""
        state = record_action(_ctx(info).api.engine, id, "resolve", _actor(info).name, note)
        return None if state is None else to_graphql(IncidentState, state)

    @strawberry.mutation(description="A verdict on an incident: sent to the flow as feedback.")
    async def verdict(
        self, info: strawberry.Info, id: str, verdict: str, severity: str | None = None
    ) -> JSON:
        """Give a verdict."""
        if verdict not in ("true_positive", "false_positive", "noise"):
            raise ValueError("verdict: expected true_positive, false_positive or noise")
        owner = _actor(info)
        api = _ctx(info).api
        state = await run_in_threadpool(record_action, api.engine, id, "verdict", owner.name)
        if state is None:
            raise ValueError(f"no incident {id!r}")
        return await send_feedback(api, id, verdict, owner.name, time.time_ns(), severity)


schema = strawberry.Schema(query=Query, mutation=Mutation)


async def _context(
    api: ApiContext = Depends(context),  # noqa: B008 - FastAPI's dependency idiom
    owner: TokenOwner = Depends(require("read")),  # noqa: B008
) -> Context:
    return Context(api, owner)


def graphql_router() -> GraphQLRouter[Any, Any]:
    """The router serving ``/graphql`` (POST; GET serves GraphiQL)."""
    return GraphQLRouter(schema, context_getter=_context, path="/graphql", tags=["graphql"])
