"""Routing, matchers, silences and maintenance windows: tables of cases, and hypothesis."""

from datetime import UTC, datetime, timedelta

import pytest
from alertflow.operators.delivery.dispatch import Dispatcher, labels_of
from alertflow.operators.delivery.errors import DeliveryConfigError
from alertflow.operators.delivery.matchers import Matcher
from alertflow.operators.delivery.routing import RoutingTree
from alertflow.operators.delivery.silences import MaintenanceWindow, Silence, Suppressions
from alertflow.schemas.config import ConfigError, load_config
from alertflow.schemas.config_notify import (
    MaintenanceWindowConfig,
    NotifyConfig,
    RouteConfig,
    SilenceConfig,
)
from alertflow.schemas.outputs import Notification
from hypothesis import given
from hypothesis import strategies as st

LABELS = {"severity": ("critical",), "service": ("api", "db-users"), "team": ("core",)}


@pytest.mark.parametrize(("text", "holds"), [
    ("severity=critical", True),
    ("severity=warning", False),
    ("severity!=warning", True),
    ("service=db-users", True),  # any of several values
    ("service!=api", False),  # a negative matcher: none may match
    ('service=~"db-.*"', True),
    ("service=~db", False),  # anchored, as in Alertmanager
    ("service!~web.*", True),
    ("missing=", True),  # an absent label is the empty string
    ("missing!=", False),
    ("team = core", True),
])
def test_matchers(text, holds):
    assert Matcher.parse(text).matches(LABELS) is holds


@pytest.mark.parametrize("text", ["severity", "=x", "a=~(", "9a=b", ""])
def test_bad_matchers_are_config_errors(text):
    with pytest.raises(DeliveryConfigError, match="matcher"):
        Matcher.parse(text)


@given(st.text(max_size=40))
def test_any_matcher_text_parses_or_fails_clearly(text):
    try:
        matcher = Matcher.parse(text)
    except DeliveryConfigError as exc:
        assert repr(text) in str(exc)
    else:
        assert isinstance(matcher.matches(LABELS), bool)


TREE = RouteConfig.model_validate({
    "receiver": "default",
    "routes": [
        {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
        {"matchers": ["team=db"], "receiver": "dba",
         "routes": [{"matchers": ["service=~mysql.*"], "receiver": "mysql-oncall"}]},
        {"matchers": ["team=core"]},  # inherits "default"
        {"matchers": ["severity=info"], "receiver": "quiet"},
    ],
})


@pytest.mark.parametrize(("labels", "receivers"), [
    ({"severity": ("critical",), "team": ("db",)}, ("pager", "dba")),
    ({"severity": ("warning",), "team": ("db",), "service": ("mysql-1",)}, ("mysql-oncall",)),
    ({"severity": ("warning",), "team": ("core",)}, ("default",)),
    ({"severity": ("info",), "team": ("core",)}, ("default",)),  # first match wins
    ({"severity": ("info",)}, ("quiet",)),
    ({"severity": ("warning",)}, ("default",)),
])
def test_routing_tree(labels, receivers):
    assert RoutingTree(TREE).receivers(labels) == receivers


AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def silence(matchers, start=AT - timedelta(hours=1), end=AT + timedelta(hours=1)):
    return Silence.from_config(SilenceConfig(matchers=matchers, starts_at=start, ends_at=end,
                                             created_by="ana", comment="deploy"))


@pytest.mark.parametrize(("rule", "at", "held"), [
    (silence(["service=api"]), AT, True),
    (silence(["service=web"]), AT, False),
    (silence(["service=api"]), AT + timedelta(hours=1), False),  # ends exclusive
    (silence(["service=api"]), AT - timedelta(hours=1), True),  # starts inclusive
])
def test_silences(rule, at, held):
    assert rule.covers(at, LABELS) is held


def window(**kw):
    return MaintenanceWindow.from_config(MaintenanceWindowConfig(name="w", **kw))


@pytest.mark.parametrize(("rule", "at", "held"), [
    # Sunday 23:00-01:00 in New York crosses midnight into Monday.
    (window(days=["sun"], start="23:00", duration_min=120, timezone="America/New_York"),
     datetime(2026, 12, 7, 5, 30, tzinfo=UTC), True),  # Mon 00:30 in New York
    (window(days=["sun"], start="23:00", duration_min=120, timezone="America/New_York"),
     datetime(2026, 12, 7, 6, 30, tzinfo=UTC), False),  # Mon 01:30 in New York
    # Daylight saving: 02:00-03:00 local on the Sunday clocks go back still opens at 02:00.
    (window(days=["sun"], start="02:00", duration_min=60, timezone="Europe/Berlin"),
     datetime(2026, 10, 25, 1, 30, tzinfo=UTC), True),
    (window(days=["mon", "tue"], start="09:00", duration_min=30, matchers=["team=core"]),
     datetime(2026, 12, 8, 9, 10, tzinfo=UTC), True),
    (window(days=["mon", "tue"], start="09:00", duration_min=30, matchers=["team=db"]),
     datetime(2026, 12, 8, 9, 10, tzinfo=UTC), False),
    (window(starts_at=AT, ends_at=AT + timedelta(minutes=5)), AT + timedelta(minutes=4), True),
    (window(starts_at=AT, ends_at=AT + timedelta(minutes=5)), AT + timedelta(minutes=5), False),
    # A week-long window that started last Saturday still covers Friday.
    (window(days=["sat"], start="00:00", duration_min=7 * 24 * 60 - 1),
     datetime(2026, 12, 11, 23, 0, tzinfo=UTC), True),
])
def test_maintenance_windows(rule, at, held):
    assert rule.covers(at, LABELS) is held


@pytest.mark.parametrize(("data", "message"), [
    ({"receivers": [{"name": "a", "url": "ftp://x"}], "route": {"receiver": "a"}}, "http"),
    ({"receivers": [{"name": "a", "url": "http://x"}], "route": {"receiver": "b"}},
     "not configured"),
    ({"receivers": [{"name": "a", "url": "http://x"}]}, "default receiver"),
    ({"receivers": [{"name": "p", "type": "pagerduty"}], "route": {"receiver": "p"}}, "token"),
    ({"receivers": [{"name": "a", "url": "http://x", "signing_secret": {}}],
      "route": {"receiver": "a"}}, "exactly one of env"),
    ({"silences": [{"matchers": ["a=b"], "starts_at": "2026-12-07T02:00:00",
                    "ends_at": "2026-12-07T03:00:00"}]}, "timezone"),
    ({"maintenance_windows": [{"name": "w", "days": ["sun"]}]}, "recurring window needs"),
    ({"maintenance_windows": [{"name": "w", "days": ["sun"], "start": "25:00",
                               "duration_min": 5}]}, "pattern"),
])
def test_config_mistakes_are_named(data, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, {"notify": data})


def test_an_unknown_timezone_is_a_config_error():
    with pytest.raises(DeliveryConfigError, match="timezone"):
        window(days=["sun"], start="01:00", duration_min=5, timezone="Mars/Olympus")


def test_pagerduty_gets_its_default_endpoint():
    config = NotifyConfig.model_validate({"receivers": [
        {"name": "p", "type": "pagerduty", "token": {"env": "PD_KEY"}}], "route": {"receiver": "p"}})
    assert config.receivers[0].url == "https://events.pagerduty.com/v2/enqueue"


def test_dispatch_fills_receivers_and_the_silence_that_holds_it():
    note = Notification(id="n", kind="incident_opened", incident_id="i", incident_version=1,
                        ts="2026-12-07T01:00:00Z", severity="critical", title="t", text="x",
                        domain="prod", services=["api", "db-users"], root_cause="db-users",
                        labels={"team": "core"})
    assert labels_of(note)["root_cause"] == ("db-users",)
    quiet = Dispatcher(RoutingTree(TREE), lambda: Suppressions([silence(["root_cause=db-users"])]))
    routed = quiet.dispatch(note)
    assert routed.receivers == ["pager", "default"]
    assert routed.suppressed_by is not None and "by ana: deploy" in routed.suppressed_by
    loud = Dispatcher(RoutingTree(TREE), lambda: Suppressions([silence(["team=db"])]))
    assert loud.dispatch(note).suppressed_by is None
