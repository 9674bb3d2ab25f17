"""Snapshots pickled before the move to ``operators/correlation/`` still load.

Bytewax recovery pickles the correlator's state by class path; a snapshot taken by an
older version names ``alertflow.operators.incidents`` and its siblings.
"""

import pickle
import subprocess
import sys

import pytest
from alertflow.operators.correlation import legacy_paths
from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import (
    IncidentGrouper,
    IncidentSettings,
    IncidentState,
)
from alertflow.schemas.records import AlertEvent

OLD_NAMES = [
    (IncidentSettings, "alertflow.operators.incidents"),
    (IncidentGrouper, "alertflow.operators.incidents"),
    (IncidentState, "alertflow.operators.incidents"),  # now defined in incident_state
    (DomainCorrelator, "alertflow.operators.correlator"),
    (AlertMember, "alertflow.operators.alert_dedup"),
]


def _pickled_as(obj: object, cls: type, old_module: str) -> bytes:
    """``obj`` pickled as an older version did: its class named by the old module path."""
    return _pickled_with(obj, {cls: old_module})


def _pickled_with(obj: object, old_modules: dict[type, str]) -> bytes:
    """``obj`` pickled with each class in ``old_modules`` named by its old module path."""
    new_modules = {cls: cls.__module__ for cls in old_modules}
    for cls, old in old_modules.items():
        cls.__module__ = old
    try:
        return pickle.dumps(obj)
    finally:
        for cls, new in new_modules.items():
            cls.__module__ = new


@pytest.mark.parametrize(("cls", "old_module"), OLD_NAMES)
def test_old_class_path_loads_in_a_fresh_interpreter(cls: type, old_module: str) -> None:
    blob = _pickled_as(cls, cls, old_module)
    assert old_module.encode() in blob and b".correlation." not in blob
    loaded = subprocess.run(
        [sys.executable, "-c",
         "import pickle, sys; c = pickle.loads(sys.stdin.buffer.read());"
         " print(c.__module__ + '.' + c.__qualname__)"],
        input=blob, capture_output=True, check=True,
    ).stdout.decode().strip()
    assert loaded == f"{cls.__module__}.{cls.__qualname__}"


def test_an_old_settings_record_round_trips() -> None:
    settings = IncidentSettings(session_gap_s=123.0)
    blob = _pickled_as(settings, IncidentSettings, "alertflow.operators.incidents")
    assert b"alertflow.operators.incidents" in blob
    assert pickle.loads(blob) == settings


def test_only_moved_modules_are_aliased() -> None:
    finder = legacy_paths.LegacyPathFinder()
    assert finder.find_spec("alertflow.operators.incidents") is not None
    assert finder.find_spec("alertflow.operators.span_faults") is None
    assert finder.find_spec("alertflow.operators.no_such_module") is None
    with pytest.raises(ModuleNotFoundError):
        __import__("alertflow.operators.no_such_module")


def _alert(fingerprint: str, status: str, at_s: int) -> AlertEvent:
    return AlertEvent(
        fingerprint=fingerprint,
        status=status,
        labels={"alertname": "X", "service": "api", "severity": "critical", "cluster": "c"},
        annotations={},
        starts_ns=10**18,
        ends_ns=None if status == "firing" else 10**18 + at_s * 10**9,
        ref=f"alerts:{fingerprint}:{status}",
    )


def test_an_old_grouper_snapshot_resumes_like_the_live_one() -> None:
    live = IncidentGrouper("c")
    assert live.on_alert(_alert("a", "firing", 0), 0)
    blob = _pickled_with(live, {
        IncidentGrouper: "alertflow.operators.incidents",
        IncidentState: "alertflow.operators.incidents",
        IncidentSettings: "alertflow.operators.incidents",
        AlertMember: "alertflow.operators.alert_dedup",
    })
    assert b"alertflow.operators.incidents" in blob
    restored = pickle.loads(blob)
    assert type(restored) is IncidentGrouper
    (state,) = restored.incidents.values()
    assert type(state) is IncidentState and type(state.members["a"]) is AlertMember
    resolve = _alert("a", "resolved", 60)
    after = [(d.stream, d.key) for d in restored.on_alert(resolve, 0) + restored.flush()]
    expected = [(d.stream, d.key) for d in live.on_alert(resolve, 0) + live.flush()]
    assert after == expected and ("incidents", state.incident_id) in after
