"""Settings of notification delivery: receivers, the routing tree, silences, windows."""

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ReceiverType = Literal["webhook", "slack", "pagerduty", "opsgenie"]
_DEFAULT_URLS = {
    "pagerduty": "https://events.pagerduty.com/v2/enqueue",
    "opsgenie": "https://api.opsgenie.com/v2/alerts",
}
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Secret(_Settings):
    """A secret read from the environment or a file at start; never written in config."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "Secret":
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret needs exactly one of env: NAME or file: PATH")
        return self


class ReceiverConfig(_Settings):
    """Where notifications go, and how hard to try.

    ``signing_secret`` signs every request (``X-Alertflow-Signature``, HMAC-SHA256 over
    the timestamp and body); ``token`` is the PagerDuty routing key or the Opsgenie API key.
    """

    name: str = Field(min_length=1)
    type: ReceiverType = "webhook"
    url: str | None = Field(None, description="Endpoint; PagerDuty and Opsgenie have defaults.")
    signing_secret: Secret | None = None
    token: Secret | None = None
    timeout_s: float = Field(5.0, gt=0)
    rate_per_minute: float = Field(60.0, gt=0, description="Token bucket refill rate.")
    burst: int = Field(10, ge=1)
    failures_to_open: int = Field(5, ge=1, description="Consecutive failures open the breaker.")
    open_for_s: float = Field(30.0, gt=0, description="How long an open breaker waits to probe.")

    @model_validator(mode="after")
    def _endpoint(self) -> "ReceiverConfig":
        url = self.url or _DEFAULT_URLS.get(self.type)
        if url is None:
            raise ValueError(f"receiver {self.name!r} ({self.type}) needs a url")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"receiver {self.name!r}: url {url!r} must start with http(s)://")
        if self.type in ("pagerduty", "opsgenie") and self.token is None:
            raise ValueError(f"receiver {self.name!r} ({self.type}) needs a token "
                             "(the routing key or API key) from env: or file:")
        object.__setattr__(self, "url", url)
        return self


class RouteConfig(_Settings):
    """One node of the routing tree (Alertmanager's shape).

    A node matches when all its ``matchers`` hold; children are tried in order and the
    first that matches wins unless it sets ``continue``. A node no child takes delivers
    to its own ``receiver`` (inherited from its parent when unset).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    receiver: str | None = None
    matchers: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")
    routes: list["RouteConfig"] = Field(default_factory=list)


class SilenceConfig(_Settings):
    """Suppress matching notifications between two instants (incidents are still recorded)."""

    id: str | None = None
    matchers: list[str] = Field(min_length=1)
    starts_at: datetime
    ends_at: datetime
    created_by: str = "config"
    comment: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> "SilenceConfig":
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("silence times need a timezone (e.g. 2026-12-07T02:00:00Z)")
        if self.ends_at <= self.starts_at:
            raise ValueError("a silence must end after it starts")
        return self


class MaintenanceWindowConfig(_Settings):
    """A recurring (weekly) or one-off window during which matching notifications are held back.

    Recurring: ``days`` and ``start`` ("HH:MM") in ``timezone``, lasting ``duration_min``.
    One-off: ``starts_at`` and ``ends_at``.
    """

    name: str = Field(min_length=1)
    matchers: list[str] = Field(default_factory=list)
    days: list[Weekday] = Field(default_factory=list)
    start: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    duration_min: float | None = Field(None, gt=0, le=7 * 24 * 60)
    timezone: str = "UTC"
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> "MaintenanceWindowConfig":
        recurring = bool(self.days) or self.start is not None or self.duration_min is not None
        one_off = self.starts_at is not None or self.ends_at is not None
        if recurring == one_off:
            raise ValueError(
                f"window {self.name!r}: give days, start and duration_min (recurring) "
                "or starts_at and ends_at (one-off)"
            )
        if recurring and not (self.days and self.start and self.duration_min):
            raise ValueError(f"window {self.name!r}: a recurring window needs days, start and "
                             "duration_min")
        if one_off and not (self.starts_at and self.ends_at and self.ends_at > self.starts_at):
            raise ValueError(f"window {self.name!r}: a one-off window needs starts_at < ends_at")
        return self


class RetryConfig(_Settings):
    """Exponential backoff with full jitter, until ``give_up_after_s``, then the dead letter."""

    initial_s: float = Field(1.0, gt=0)
    max_s: float = Field(300.0, gt=0)
    give_up_after_s: float = Field(24 * 3600.0, gt=0)


class NotifyConfig(_Settings):
    """Notification delivery; off until a receiver is configured."""

    receivers: list[ReceiverConfig] = Field(default_factory=list)
    route: RouteConfig = RouteConfig()
    silences: list[SilenceConfig] = Field(default_factory=list)
    silences_file: Path | None = Field(
        None, description="JSON silences that `alertflow silence` and the API add; re-read "
        "when it changes."
    )
    maintenance_windows: list[MaintenanceWindowConfig] = Field(default_factory=list)
    retry: RetryConfig = RetryConfig()
    outbox: Path | None = Field(
        None, description="SQLite file holding undelivered notifications across restarts; "
        "default: notify-outbox.sqlite in the recovery directory, else the output directory."
    )
    drain_timeout_s: float = Field(
        30.0, ge=0, description="At the end of a bounded input, how long to wait for delivery."
    )

    @model_validator(mode="after")
    def _receivers_known(self) -> "NotifyConfig":
        names = [r.name for r in self.receivers]
        if len(names) != len(set(names)):
            raise ValueError(f"receiver names must be unique: {names}")
        for used in _route_receivers(self.route):
            if used not in names:
                raise ValueError(f"route names receiver {used!r}, which is not configured "
                                 f"(receivers: {names or 'none'})")
        if self.receivers and self.route.receiver is None:
            raise ValueError("notify.route.receiver (the default receiver) is required")
        return self


def _route_receivers(route: RouteConfig) -> list[str]:
    found = [route.receiver] if route.receiver else []
    for child in route.routes:
        found += _route_receivers(child)
    return found
