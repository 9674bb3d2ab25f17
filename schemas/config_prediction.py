"""The ``prediction`` config section: thresholds to forecast against, recommendations.

A threshold selects series with Prometheus-style matchers: ``match`` maps a label (the
metric name is ``__name__``) to the exact value it must have; a value written ``=~RE``
is a fully anchored regular expression, as in PromQL's ``label=~"RE"``.

>>> t = Threshold.model_validate({"match": {"__name__": "disk_used_ratio"}, "above": 0.9})
>>> t.matches("disk_used_ratio", {"host": "a"}), t.matches("cpu", {})
(True, False)
"""

import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_REGEX_PREFIX = "=~"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DynamicSpec(_Section):
    """A level that follows the series' learned baseline, set by a target alert rate."""

    rate: float = Field(0.01, gt=0, le=0.2, description="Target share of samples over the level.")
    direction: Literal["above", "below"] = Field("above", description="Which side is a breach.")
    min_fire_s: float = Field(300.0, ge=0, description="Over the fire level this long to fire.")
    min_clear_s: float = Field(600.0, ge=0, description="Under the clear level this long to clear.")
    clear_factor: float = Field(
        5.0, ge=1, le=50, description="The clear level sits at the rate times this quantile."
    )
    # 288 (a day of 5-minute samples), not 7 days: chosen in every leave-one-group-out fold
    # of bench/prediction_dynamic.py (a long window keeps residuals from before the season
    # was learned, and undershoots the rate).
    window: int = Field(288, ge=50, le=100_000, description="Recent residuals the levels use.")


class Threshold(_Section):
    """One threshold: the series it applies to and the level (static or dynamic) of a breach."""

    match: dict[str, str] = Field(
        description="Label matchers; __name__ is the metric name; '=~RE' is an anchored regex."
    )
    above: float | None = Field(None, description="A breach is a value above this.")
    below: float | None = Field(None, description="A breach is a value below this.")
    dynamic: DynamicSpec | None = Field(
        None, description="A learned level with a target alert rate, in place of above/below."
    )
    name: str | None = Field(None, description="How records name it; default: the matchers.")

    @field_validator("match")
    @classmethod
    def _valid_matchers(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("match needs at least one label matcher")
        for label, expected in value.items():
            if not _LABEL_NAME.match(label):
                raise ValueError(f"match: {label!r} is not a Prometheus label name")
            if expected.startswith(_REGEX_PREFIX):
                try:
                    re.compile(expected[len(_REGEX_PREFIX) :])
                except re.error as exc:
                    raise ValueError(f"match: {label}: bad regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_bound(self) -> "Threshold":
        given = [k for k in ("above", "below", "dynamic") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a threshold needs exactly one of above, below or dynamic")
        return self

    @property
    def level(self) -> float:
        """The static breach level (NaN for a dynamic one, whose level moves)."""
        if self.dynamic is not None:
            return math.nan
        return self.above if self.above is not None else self.below  # type: ignore[return-value]

    @property
    def direction(self) -> str:
        """``above`` or ``below``."""
        if self.dynamic is not None:
            return self.dynamic.direction
        return "above" if self.above is not None else "below"

    @property
    def label(self) -> str:
        """A readable name: the configured one, or ``{matchers} > level``."""
        if self.name:
            return self.name
        inner = ",".join(f"{k}={v!r}" for k, v in sorted(self.match.items()))
        if self.dynamic is not None:
            return f"{{{inner}}} {self.direction} dynamic(rate={self.dynamic.rate:g})"
        return f"{{{inner}}} {'>' if self.direction == 'above' else '<'} {self.level:g}"

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        """Whether a series of this metric name and labels is selected (a missing label is '')."""
        for label, expected in self.match.items():
            actual = name if label == "__name__" else labels.get(label, "")
            if expected.startswith(_REGEX_PREFIX):
                if re.fullmatch(expected[len(_REGEX_PREFIX) :], actual) is None:
                    return False
            elif actual != expected:
                return False
        return True


class LstmSpec(_Section):
    """Series whose forecasts may use a trained LSTM (``alertflow train lstm``'s weights)."""

    match: dict[str, str] = Field(description="Label matchers, as a threshold's.")
    weights: Path = Field(description="The .npz weights file; relative to the config file.")

    @field_validator("match")
    @classmethod
    def _valid_matchers(cls, value: dict[str, str]) -> dict[str, str]:
        return Threshold._valid_matchers(value)

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        """Whether a series of this name and labels is selected (a threshold's grammar)."""
        return Threshold(match=self.match, above=0.0).matches(name, labels)


class RecommendationRule(_Section):
    """A pattern a prediction or incident can show, and the actions that prevent it."""

    id: str = Field(min_length=1)
    pattern: str = Field(
        description="saturation_trend, leak_growth, budget_burn, backlog_growth, exhaustion, "
        "or bad_deploy."
    )
    match: dict[str, str] = Field(
        default_factory=dict, description="Label matchers the series must satisfy (as above)."
    )
    actions: list[str] = Field(min_length=1)

    @field_validator("match")
    @classmethod
    def _valid_matchers(cls, value: dict[str, str]) -> dict[str, str]:
        if value:
            Threshold._valid_matchers(value)  # the same matcher grammar
        return value


class PredictionConfig(_Section):
    """Forecasting against thresholds (issue 14)."""

    thresholds: list[Threshold] = Field(default_factory=list)
    alert_rules: list[Path] = Field(
        default_factory=list,
        description="Prometheus rule files whose alerts (`expr: metric{labels} > X`) become "
        "thresholds too; read when the config is loaded, relative to the config file.",
    )
    horizon_s: float = Field(4 * 3600.0, gt=0, le=7 * 86400, description="How far ahead.")
    forecast_every_s: float = Field(
        900.0, gt=0, description="Event-time cadence of a series' forecasts (not every sample)."
    )
    min_step_s: float = Field(300.0, gt=0, description="Narrowest bucket a series is averaged in.")
    min_confidence: float = Field(
        0.6, ge=0, le=1, description="A breach at least this likely is predicted (and emitted)."
    )
    incident_confidence: float = Field(
        0.7, ge=0, le=1, description="A prediction at least this confident opens an incident."
    )
    min_lead_s: float = Field(
        0.0, ge=0, description="A breach predicted sooner than this is left to detection."
    )
    lstm: list[LstmSpec] = Field(
        default_factory=list,
        description="Opt-in per matcher: the LSTM joins the series' candidate forecasters and "
        "forecasts where its recent errors are the lowest (the first matching entry applies).",
    )
    recommendations: list[RecommendationRule] = Field(
        default_factory=list, description="Added to the shipped catalogue (same id: replaces)."
    )
    emit_all: bool = Field(
        False, description="Emit every forecast, not only predicted breaches and their changes."
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if value is None:
            return []
        return value
