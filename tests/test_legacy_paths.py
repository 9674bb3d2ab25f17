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
from alertflow.operators.correlation.incidents import IncidentGrouper, IncidentSettings

OLD_NAMES = [
    (IncidentSettings, "alertflow.operators.incidents"),
    (IncidentGrouper, "alertflow.operators.incidents"),
    (DomainCorrelator, "alertflow.operators.correlator"),
    (AlertMember, "alertflow.operators.alert_dedup"),
]


def _pickled_as(obj: object, cls: type, old_module: str) -> bytes:
    """``obj`` pickled as an older version did: its class named by the old module path."""
    new_module = cls.__module__
    cls.__module__ = old_module
    try:
        return pickle.dumps(obj)
    finally:
        cls.__module__ = new_module


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
