"""The alert analytics answer (``store.analytics``), typed for OpenAPI and GraphQL."""

from pydantic import BaseModel, ConfigDict, Field


class AnalyticsFigures(BaseModel):
    """One rule's, service's or team's figures over the range."""

    notifications: int = Field(description="Firing notifications (re-sends of a state collapse).")
    alerts: int = Field(description="Distinct alerts (fingerprints).")
    flapping_alerts: int = Field(description="Alerts that started more than once in the range.")
    absorbed_alerts: int = Field(description="Alerts that are members of an incident.")
    absorbed_share: float = Field(description="absorbed_alerts / alerts.")
    incidents: int = Field(description="Incidents opened in the range that this one is part of.")
    mtta_s: float | None = Field(description="Mean seconds from opening to acknowledgement.")
    mttr_s: float | None = Field(description="Mean seconds from opening to resolution.")
    noisiest_rule: str | None = Field(description="The rule with the most notifications.")


class RuleAnalytics(AnalyticsFigures):
    """A rule's (``alertname``'s) figures."""

    rule: str


class ServiceAnalytics(AnalyticsFigures):
    """A service's figures."""

    service: str


class TeamAnalytics(AnalyticsFigures):
    """A team's figures: the alert's team label, else ``analytics.teams[service]``."""

    team: str


class IncidentTimes(BaseModel):
    """Incidents opened in the range, with mean times to acknowledge and resolve."""

    opened: int
    acknowledged: int
    resolved: int
    mtta_s: float | None
    mttr_s: float | None


class TrendDay(BaseModel):
    """One UTC day."""

    day: str = Field(description="YYYY-MM-DD")
    notifications: int
    incidents_opened: int


class TrendWeek(BaseModel):
    """One ISO week."""

    week: str = Field(description="Its Monday, YYYY-MM-DD")
    notifications: int
    incidents_opened: int


class AlertAnalyticsReport(BaseModel):
    """Alert analytics of [from, to), of one team's alerts and incidents when ``team`` is set."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="Start of the range, RFC 3339.")
    to: str = Field(description="End of the range (excluded), RFC 3339.")
    team: str | None
    rules: list[RuleAnalytics] = Field(description="Noisiest first.")
    services: list[ServiceAnalytics]
    teams: list[TeamAnalytics]
    noisiest_rules: list[str] = Field(description="Up to 10, most notifications first.")
    flapping_rules: list[str] = Field(description="Up to 10, most flapping alerts first.")
    incidents: IncidentTimes
    trend: list[TrendDay] = Field(description="Days with notifications or incidents.")
    weekly: list[TrendWeek] = Field(description="Weeks with notifications or incidents.")
