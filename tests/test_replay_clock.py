"""A replay of files closes windows and incidents by event time only, so it is repeatable."""

import pytest
from alertflow.dataflows import logic
from alertflow.dataflows.logic import ServiceWindowLogic
from alertflow.dataflows.uris import files_only
from alertflow.schemas.config import AlertflowConfig
from alertflow.schemas.records import LogEvent

S = 1_000_000_000
T0 = 1_700_000_040 * S  # 40 s into a one-minute window


def _config(uri: str) -> AlertflowConfig:
    return AlertflowConfig(inputs={"logs": [uri]})


@pytest.mark.parametrize(
    ("inputs", "replay"),
    [
        ({"logs": ["l.jsonl"], "alerts": ["a.jsonl"]}, True),
        ({"logs": ["l.jsonl"], "metrics": ["kafka://b:9092/metrics"]}, False),
        ({"alerts": ["queue://alerts"]}, False),
        ({}, False),
    ],
)
def test_only_a_run_of_files_alone_is_a_replay(inputs, replay):
    assert files_only(inputs) is replay


def _lines_counted(uri: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """A quiet service's line, then 10 minutes of wall time, then a line 30 s older."""
    wall = [T0]
    monkeypatch.setattr(logic.time, "time_ns", lambda: wall[0])
    step = ServiceWindowLogic(None, _config(uri))
    step.on_batch([[LogEvent(T0, "cart", "info", "first")]])
    wall[0] += 600 * S  # the machine was busy (replay) or the service was quiet (live)
    step.on_notify()
    step.on_batch([[LogEvent(T0 - 30 * S, "cart", "info", "second")]])  # within lateness
    closed = step.on_eof()[0]
    counted = sum(s.value for batch in closed for s in batch
                  if s.name == "alertflow_log_lines" and s.labels.get("level") == "info")
    return int(counted), step.windows.late


def test_a_replay_keeps_a_line_that_live_wall_time_would_have_called_late(monkeypatch):
    assert _lines_counted("logs.jsonl", monkeypatch) == (2, 0)
    # Live, wall time closes a quiet service's window: the same line is late there.
    live = _lines_counted("kafka://b:9092/logs", monkeypatch)
    assert live[1] == 1


def test_a_replay_sets_no_wall_clock_timers(monkeypatch):
    replay = ServiceWindowLogic(None, _config("logs.jsonl"))
    replay.on_batch([[LogEvent(T0, "cart", "info", "first")]])
    assert replay.notify_at() == replay.idle.due()  # only the idle eviction
    live = ServiceWindowLogic(None, _config("kafka://b:9092/logs"))
    live.on_batch([[LogEvent(T0, "cart", "info", "first")]])
    assert live.notify_at() < live.idle.due()  # the window's close on wall time comes first
