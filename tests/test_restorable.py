"""A snapshot written before a field existed restores with that field's default.

Correlation's state (incidents, their members, noise digests) is pickled into the recovery
store; an upgrade that adds a field must not crash the job when it resumes from the old one.
"""

import pickle
from dataclasses import MISSING, fields

import pytest
from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.noise_digest import DigestEntry, NoiseDigest
from hypothesis import given, settings
from hypothesis import strategies as st


def _incident() -> IncidentState:
    incident = IncidentState("i1", "prod", 1, 2, 3, 4)
    incident.version, incident.omitted_alerts = 3, {"x"}
    return incident


SAMPLES = [
    _incident(),
    AlertMember("f1", {"alertname": "DiskLow", "service": "db"}, {}, 1, 2, "firing"),
    DigestEntry("f1", {"alertname": "DiskLow"}, "db", "warning", 1, 2, "firing", 1, 1, 1),
    NoiseDigest("d1", 0, 10),
]


def _defaulted(obj) -> list[str]:
    return [
        f.name for f in fields(obj) if f.default is not MISSING or f.default_factory is not MISSING
    ]


def _old_snapshot(obj, missing: str) -> bytes:
    """The object's pickle as a build without the field ``missing`` would have written it."""
    new, args, (_, slots) = obj.__reduce_ex__(4)[:3]
    return pickle.dumps((new, args, {k: v for k, v in slots.items() if k != missing}))


def _load(snapshot: bytes):
    """What unpickling does with such a reduce tuple: a bare object, then its state."""
    new, args, slots = pickle.loads(snapshot)
    obj = new(*args)
    obj.__setstate__((None, slots))
    return obj


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_a_pickle_round_trip_is_unchanged(obj):
    assert pickle.loads(pickle.dumps(obj)) == obj


@given(st.data())
def test_a_field_missing_from_an_old_snapshot_gets_its_default(data):
    obj = data.draw(st.sampled_from(SAMPLES))
    missing = data.draw(st.sampled_from(_defaulted(obj)))
    restored = _load(_old_snapshot(obj, missing))
    (spec,) = [f for f in fields(obj) if f.name == missing]
    default = spec.default if spec.default is not MISSING else spec.default_factory()
    # A field __post_init__ derives is derived again (a member's service from its labels).
    expected = getattr(obj, missing) if not spec.init else default
    assert getattr(restored, missing) == expected
    for f in fields(obj):  # everything the snapshot held is as it was
        if f.name != missing:
            assert getattr(restored, f.name) == getattr(obj, f.name)


def test_an_incident_from_before_pending_joins_can_be_versioned():
    incident = _load(_old_snapshot(_incident(), "pending_joins"))
    assert incident.pending_joins is False
    assert incident.omitted_alerts == {"x"}


def _step_states() -> list:
    """Real state objects of the flow's steps, as this code builds them."""
    from alertflow.dataflows.logic import IncidentLogic, make_shard_scorer
    from alertflow.schemas.config import AlertflowConfig

    config = AlertflowConfig()
    return [
        make_shard_scorer(config),
        IncidentLogic(None, config.correlation)._correlator("prod"),
    ]


def _paths(obj, depth: int = 0) -> list[tuple[str, ...]]:
    """Attribute paths from a state reachable through objects of ours, not collections."""
    from alertflow.operators.restorable import _names, _ours

    out = []
    for name in _names(obj):
        out.append((name,))
        value = getattr(obj, name)
        if depth < 2 and _ours(value):
            out.extend((name, *rest) for rest in _paths(value, depth + 1))
    return out


def _walk(obj, path: tuple[str, ...]):
    for name in path:
        obj = getattr(obj, name)
    return obj


@settings(deadline=None, max_examples=60)
@given(st.data())
def test_upgrade_gives_an_old_step_state_what_it_lacks(data):
    """Any attribute missing from an old state, at any depth, comes from a fresh one."""
    from alertflow.operators.restorable import upgrade

    index = data.draw(st.integers(0, 1))
    old, fresh = _step_states()[index], _step_states()[index]
    path = data.draw(st.sampled_from(_paths(old)))
    configured = getattr(type(old), "configured_attributes", ())
    kept = {n: v for n, v in vars(old).items() if n not in configured}
    object.__delattr__(_walk(old, path[:-1]), path[-1])  # a snapshot from before it existed
    assert upgrade(old, fresh) is old
    assert hasattr(_walk(old, path[:-1]), path[-1])
    for name in configured:  # the job's settings come from the state built now
        assert getattr(old, name) is getattr(fresh, name)
    for name, value in kept.items():  # what the snapshot held is kept, not replaced
        if (name,) != path:
            assert getattr(old, name) is value


def test_upgrade_each_builds_nothing_when_the_first_lacks_nothing():
    from alertflow.operators.restorable import upgrade_each

    class Item:
        def __init__(self):
            self.a, self.b = 1, 2

    built = []

    def build(item):
        built.append(item)
        return Item()

    items = [Item() for _ in range(3)]
    assert upgrade_each(items, build) == 0 and len(built) == 1
    for item in items:
        del item.b
    assert upgrade_each(items, build) == 3 and all(item.b == 2 for item in items)


def test_a_detector_from_before_a_setting_was_appended_restores_with_its_default():
    """A compiled detector's snapshot lists settings by position; an older one has fewer."""
    import numpy as np
    from alertflow.operators.anomaly import StreamingEnsemble
    from alertflow.operators.anomaly.base import DetectorError

    det = StreamingEnsemble(warmup=5)
    for i in range(40):
        det.update(float(i % 7), i * 60 * 10**9)
    settings_now, raw = det.__getstate__()
    older = StreamingEnsemble.__new__(StreamingEnsemble)
    older.__setstate__((settings_now[:-1], raw))  # written before the last setting existed
    assert getattr(older, _last_setting()) == getattr(det, _last_setting())  # its default
    assert np.array_equal(older.state, det.state, equal_nan=True)
    later = 41 * 60 * 10**9
    assert repr(older.update(3.0, later)) == repr(det.update(3.0, later))
    with pytest.raises(DetectorError):
        StreamingEnsemble.__new__(StreamingEnsemble).__setstate__(((*settings_now, 1.0), raw))


def _last_setting() -> str:
    import inspect

    from alertflow.operators.anomaly import StreamingEnsemble

    return list(inspect.signature(StreamingEnsemble.__init__).parameters)[-1]
