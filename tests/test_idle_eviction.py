"""State of what stops reporting leaves the job: series, entities, services, incidents.

Learned call-graph edges age out too: ``tests/test_topology.py``.
"""

from alertflow.dataflows.idle import IdleTimer
from alertflow.dataflows.logic import (
    EntityLogic,
    LogPatternLogic,
    ServiceWindowLogic,
    make_shard_scorer,
)
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.entity_scoring import by_entity
from alertflow.schemas.config import AlertflowConfig, MultivariateConfig
from alertflow.schemas.records import LogEvent, MetricSample, SpanEvent

from tests.test_correlation_table import SPLIT, alert

S = 10**9
T0 = 1_795_600_800 * S


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def _sample(host: str, i: int, name: str = "cpu") -> MetricSample:
    return MetricSample(name, {"host": host, "service": "api"}, T0 + i * 30 * S, 50.0 + i % 3)


def _clocked(logic, clock: FakeClock):
    logic.idle = IdleTimer(logic.idle.idle_ns / S, clock=clock)
    return logic


def test_series_silent_past_their_idle_time_are_forgotten():
    config = AlertflowConfig.model_validate({"scoring": {"series_idle_s": 60}})
    scorer = make_shard_scorer(config)
    scorer.process([("a", _sample("a", 0)), ("b", _sample("b", 0))], wall_ns=0)
    scorer.process([("b", _sample("b", 1))], wall_ns=50 * S)
    assert scorer.evict_idle(wall_ns=59 * S) == 0
    assert scorer.evict_idle(wall_ns=61 * S) == 1
    assert set(scorer.scorers) == {"b"}


def test_an_entity_silent_past_its_idle_time_is_flushed_and_dropped():
    clock = FakeClock()
    logic = _clocked(EntityLogic(None, MultivariateConfig(enabled=True), idle_s=60), clock)
    samples = [_sample("h1", i, m) for i in range(3) for m in ("cpu", "mem")]
    logic.on_batch([group for _, group in by_entity(samples, ("service", "host"))])
    clock.now = 59 * S
    assert logic.on_notify() == ([], False)  # woken early: kept
    clock.now = 60 * S
    _, discard = logic.on_notify()
    assert discard


def test_a_service_silent_past_its_idle_time_is_flushed_and_dropped():
    config = AlertflowConfig.model_validate({"governance": {"idle": {"service_s": 60}}})
    clock = FakeClock()
    windows = _clocked(ServiceWindowLogic(None, config), clock)
    span = SpanEvent("t1", "s1", "", "api", "GET /", "server", T0, T0 + S // 10, False)
    windows.on_batch([[span]])
    assert windows.notify_at() is not None
    clock.now = 60 * S
    out, discard = windows.on_notify()
    assert discard and out  # the open window's series came out before the state went
    patterns = _clocked(LogPatternLogic(None, config), clock)
    patterns.on_batch([[LogEvent(T0, "api", "error", "db timeout after 30s")]])
    clock.now = 119 * S
    assert patterns.on_notify() == ([], False)
    clock.now = 120 * S
    assert patterns.on_notify()[1]


def test_an_incident_whose_alerts_stop_resolves_and_leaves_the_state():
    settings = IncidentSettings(lateness_s=0.0, stale_after_s=600, quiet_period_s=0)
    correlator = DomainCorrelator("c", settings, static_edges=SPLIT)
    correlator.on_events([alert("1", "api", 10)], wall_ns=0)
    assert len(correlator.grouper.incidents) == 1
    # Another part of the estate keeps the domain's event time moving; api goes silent.
    correlator.on_events([alert("9", "queue", 10 + 4000)], wall_ns=0)
    assert all("1" not in i.members for i in correlator.grouper.incidents.values())
    assert "1" not in correlator.grouper.by_fingerprint
