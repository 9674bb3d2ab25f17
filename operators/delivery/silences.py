"""Silences and maintenance windows: what holds a notification back, and why.

Both are judged at the notification's event time, so a replay suppresses exactly what
the live run did. Incidents are recorded either way; only the page is held back.

>>> from datetime import datetime, UTC
>>> from alertflow.schemas.config_notify import MaintenanceWindowConfig
>>> window = MaintenanceWindow.from_config(MaintenanceWindowConfig(
...     name="db patching", matchers=["service=db"], days=["sun"], start="02:00",
...     duration_min=120, timezone="Europe/Berlin"))
>>> sunday_3am_berlin = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
>>> window.covers(sunday_3am_berlin, {"service": ("db",)})
True
>>> window.covers(sunday_3am_berlin, {"service": ("api",)})
False
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alertflow.operators.delivery.errors import DeliveryConfigError
from alertflow.operators.delivery.matchers import Labels, Matcher, all_match, parse_all
from alertflow.operators.ids import stable_id
from alertflow.schemas.config_notify import MaintenanceWindowConfig, SilenceConfig
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.jsoncodec import loads
from pydantic import TypeAdapter, ValidationError

_SILENCES = TypeAdapter(list[SilenceConfig])
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Silence:
    """Matching notifications between ``starts_at`` (inclusive) and ``ends_at`` are held."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    @classmethod
    def from_config(cls, config: SilenceConfig) -> "Silence":
        """Compile a configured (or API-made) silence; its id is stable when not given."""
        sid = config.id or stable_id("silence", *config.matchers, config.starts_at.isoformat())
        return cls(sid, parse_all(config.matchers), config.starts_at, config.ends_at,
                   config.created_by, config.comment)

    def covers(self, at: datetime, labels: Labels) -> bool:
        """Whether this silence holds back a notification with these labels at ``at``."""
        return self.starts_at <= at < self.ends_at and all_match(self.matchers, labels)

    def reason(self) -> str:
        """What a suppressed record says about this silence."""
        why = f": {self.comment}" if self.comment else ""
        return f"silence {self.id} by {self.created_by}{why}"


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A weekly or one-off window; matching notifications inside it are held back."""

    name: str
    matchers: tuple[Matcher, ...]
    zone: ZoneInfo
    days: frozenset[int] = frozenset()
    start: time | None = None
    length: timedelta | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @classmethod
    def from_config(cls, config: MaintenanceWindowConfig) -> "MaintenanceWindow":
        """Compile a configured window; an unknown time zone is a config error."""
        try:
            zone = ZoneInfo(config.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DeliveryConfigError(
                f"window {config.name!r}: unknown timezone {config.timezone!r}") from None
        matchers = parse_all(config.matchers)
        if config.starts_at is not None:
            return cls(config.name, matchers, zone, starts_at=config.starts_at,
                       ends_at=config.ends_at)
        assert config.start is not None and config.duration_min is not None
        hour, minute = (int(part) for part in config.start.split(":"))
        days = frozenset(_DAYS.index(d) for d in config.days)
        return cls(config.name, matchers, zone, days, time(hour, minute),
                   timedelta(minutes=config.duration_min))

    def covers(self, at: datetime, labels: Labels) -> bool:
        """Whether ``at`` falls in the window and the labels match its matchers."""
        return self._open_at(at) and all_match(self.matchers, labels)

    def _open_at(self, at: datetime) -> bool:
        if self.starts_at is not None:
            assert self.ends_at is not None
            return self.starts_at <= at < self.ends_at
        assert self.start is not None and self.length is not None
        local = at.astimezone(self.zone)
        # A window may run past midnight (and a week's end): look back as far as it lasts.
        for back in range(self.length.days + 2):
            day = local.date() - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            opens = datetime.combine(day, self.start, tzinfo=self.zone)
            if opens <= local < opens + self.length:
                return True
        return False

    def reason(self) -> str:
        """What a suppressed record says about this window."""
        return f"maintenance window {self.name!r}"


class Suppressions:
    """Every silence and window in force; ``why_held`` names the first that holds a page."""

    def __init__(self, silences: Iterable[Silence] = (),
                 windows: Iterable[MaintenanceWindow] = ()) -> None:
        self.silences = tuple(silences)
        self.windows = tuple(windows)

    def why_held(self, at: datetime, labels: Labels) -> str | None:
        """The reason a notification is held back at ``at``, or None to deliver it."""
        for rule in (*self.silences, *self.windows):
            if rule.covers(at, labels):
                return rule.reason()
        return None


def load_silences(path: Path) -> tuple[Silence, ...]:
    """Silences from a JSON file holding a list of silence objects (as in the config)."""
    try:
        configs = _SILENCES.validate_python(loads(path.read_bytes()) or [])
    except (DecodeError, ValueError, ValidationError) as exc:
        raise DeliveryConfigError(f"silences file {path} is not valid: {exc}") from None
    return tuple(Silence.from_config(c) for c in configs)
