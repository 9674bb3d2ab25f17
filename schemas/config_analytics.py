"""Settings of alert analytics: which team owns an alert."""

from pydantic import BaseModel, ConfigDict, Field

UNASSIGNED = "unassigned"
"""The team of an alert with no team label whose service is not in ``teams``."""


class AnalyticsConfig(BaseModel):
    """Where alert analytics find an alert's team.

    An alert's own ``team_label`` wins; without it, its service's entry in ``teams``;
    otherwise :data:`UNASSIGNED`. The label is read when the alert is stored; the
    mapping when analytics are asked, so editing it re-attributes past alerts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    team_label: str = Field("team", min_length=1, description="Alert label naming the team.")
    teams: dict[str, str] = Field(
        default_factory=dict, description="Service -> team, for alerts without the label."
    )

    def team_of(self, label: str, service: str) -> str:
        """The team of an alert whose team label is ``label`` ('' when absent).

        >>> AnalyticsConfig(teams={"db": "storage"}).team_of("", "db")
        'storage'
        """
        return label or self.teams.get(service) or UNASSIGNED
