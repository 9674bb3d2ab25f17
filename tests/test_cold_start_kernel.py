"""The compiled cold start against the pure-Python version it replaced: the same to the bit."""

import copy
import math
import pickle
import struct
from collections import deque

import numpy as np
import pytest
from alertflow.operators.anomaly.base import DetectorError
from alertflow.operators.anomaly.cold_start import ColdStart, ColdStartSettings
from hypothesis import given, settings
from hypothesis import strategies as st


class ReferenceColdStart:
    """The deque-and-running-sums implementation the kernel replaced (alertflow 57cf158)."""

    def __init__(self, s: ColdStartSettings) -> None:
        self.s = s
        self.values: deque = deque()
        self.total = self.squares = 0.0
        self.mean = self.scale = math.nan

    def update(self, x: float) -> float:
        values, s = self.values, self.s
        n = len(values)
        z = 0.0
        self.scale = math.nan
        if n:
            mean = self.total / n
            spread = math.sqrt(max(self.squares / n - mean * mean, 0.0))
            self.mean = mean
            if abs(mean) >= 1.0 * spread:
                self.scale = max(spread, s.rel_floor * abs(mean), s.abs_floor)
                z = (x - mean) / self.scale
        else:
            self.mean = x
        # On the band's edge is inside the band (98aad08), so it is learnt too.
        if abs(z) <= s.z_threshold or n < 2:
            values.append(x)
            self.total += x
            self.squares += x * x
            if n + 1 > s.size:
                old = values.popleft()
                self.total -= old
                self.squares -= old * old
        return z

    def expectation(self) -> tuple[float, float, float] | None:
        if math.isnan(self.scale):
            return None
        half = self.s.z_threshold * self.scale
        return self.mean, self.mean - half, self.mean + half


def bits(x: float) -> bytes:
    """A float's bytes: equal NaNs are equal, 0.0 and -0.0 are not."""
    return struct.pack("<d", x) if not math.isnan(x) else b"nan"


def band(cold: ColdStart) -> tuple[bytes, ...] | None:
    e = cold.expectation()
    return None if e is None else tuple(bits(v) for v in (e.expected, e.lower, e.upper))


def assert_same(values, s: ColdStartSettings) -> None:
    ref, cold = ReferenceColdStart(s), ColdStart(s)
    for i, x in enumerate(values):
        z_ref, z = ref.update(x), cold.update(x)
        assert type(z) is float
        assert bits(z) == bits(z_ref), f"sample {i} ({x!r}): z {z!r}, reference {z_ref!r}"
        e_ref = ref.expectation()
        expected = None if e_ref is None else tuple(bits(v) for v in e_ref)
        assert band(cold) == expected, f"sample {i} ({x!r})"
        assert cold.anomalous(z) == (abs(z_ref) > s.z_threshold)  # the band's edge is inside


def random_series(seed: int) -> np.ndarray:
    """Noise around a level, with spikes, a level shift, flat runs and near-zero stretches."""
    rng = np.random.default_rng(seed)
    n = 300
    level = rng.choice([0.0, 1e-4, 1.0, 100.0, -50.0, 1e9])
    noise = rng.choice([0.0, 1e-3, 0.1, 1.0, 30.0])
    x = level + noise * rng.normal(size=n)
    x[rng.integers(0, n, 6)] += rng.normal(0.0, 50.0 * (abs(level) + noise + 1.0), 6)
    if seed % 3 == 0:
        x[n // 2 :] += 10.0 * (noise + 1.0)
    if seed % 5 == 0:
        x[40:60] = x[40]
    if seed % 7 == 0:
        x = np.round(x, 1)
    return x


SETTINGS = [
    ColdStartSettings(),
    ColdStartSettings(size=1),
    ColdStartSettings(size=2, z_threshold=1.5),
    ColdStartSettings(size=256, rel_floor=0.0, abs_floor=1e-9),
    ColdStartSettings(size=5, z_threshold=0.5, rel_floor=2.0, abs_floor=10.0),
    ColdStartSettings(size=0),
]


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: f"size{s.size}-z{s.z_threshold}")
@pytest.mark.parametrize("seed", range(40))
def test_same_as_the_python_version_on_random_series(seed, s):
    assert_same([float(v) for v in random_series(seed)], s)


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 1.1, 0.9, 5.0, 5.0, 5.0, 1.0],
        [0.0] * 20 + [1.0],
        [1e200, 1e200, 1.0, -1e200, 3e200, 1e200] * 10,  # squares overflow to inf, then NaN
        [1e308, 1e308, 1e308, -1e308, 5.0] * 5,  # totals overflow too
        [-0.0, 0.0, -0.0, 1e-300, -1e-300] * 5,
        [5e-324, 1.0, 5e-324, 2.0] * 8,
    ],
    ids=["jump", "zeros", "overflowing-squares", "overflowing-totals", "signed-zeros", "tiny"],
)
@pytest.mark.parametrize("s", SETTINGS[:3], ids=lambda s: f"size{s.size}")
def test_same_as_the_python_version_at_the_edges(values, s):
    assert_same(values, s)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=60),
    size=st.integers(1, 8),
    z_threshold=st.floats(0.1, 10.0),
)
def test_same_as_the_python_version_on_any_finite_values(values, size, z_threshold):
    assert_same(values, ColdStartSettings(size=size, z_threshold=z_threshold))


def test_survives_pickling_and_deep_copies_mid_series():
    s = ColdStartSettings(size=4)
    values = [10.0, 10.5, 9.5, 10.2, 30.0, 9.9, 10.1, 10.3, 9.8]
    cold = ColdStart(s)
    for x in values[:5]:
        cold.update(x)
    twins = [pickle.loads(pickle.dumps(cold)), copy.deepcopy(cold)]
    assert len(pickle.dumps(cold)) < 400
    rest = [cold.update(x) for x in values[5:]]
    for twin in twins:
        assert twin.state is not cold.state
        assert [twin.update(x) for x in values[5:]] == rest
        np.testing.assert_array_equal(twin.state, cold.state)


def test_a_snapshot_of_the_deque_version_resumes_where_it_stopped():
    s = ColdStartSettings(size=4)
    values = [10.0, 10.5, 9.5, 10.2, 30.0, 9.9, 10.1, 10.3, 9.8, 50.0, 10.0]
    ref = ReferenceColdStart(s)
    for x in values[:7]:
        ref.update(x)
    # What pickle stored for the deque version (a dataclass with slots): no dict, its slots.
    slots = {
        "settings": s,
        "values": deque(ref.values),
        "total": ref.total,
        "squares": ref.squares,
        "mean": ref.mean,
        "scale": ref.scale,
    }
    cold = ColdStart.__new__(ColdStart)
    cold.__setstate__((None, slots))
    for x in values[7:]:
        assert bits(cold.update(x)) == bits(ref.update(x))
        assert band(cold) == tuple(bits(v) for v in ref.expectation())


def test_state_stays_bounded():
    cold = ColdStart(ColdStartSettings(size=16))
    size = cold.state.size
    for i in range(1000):
        cold.update(100.0 + i % 13)
    assert cold.state.size == size == 6 + 17


def test_a_snapshot_of_other_settings_is_rejected():
    _, raw = ColdStart(ColdStartSettings(size=4)).__getstate__()
    cold = ColdStart(ColdStartSettings())
    with pytest.raises(DetectorError, match="expected 23 state values, got 11"):
        cold.__setstate__((ColdStartSettings(), raw))


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("size", 2.5),
        ("size", -1),
        ("z_threshold", 0.0),
        ("abs_floor", 0.0),
        ("rel_floor", -0.1),
        ("z_threshold", math.nan),
    ],
)
def test_settings_it_cannot_use_are_rejected(setting, value):
    with pytest.raises(DetectorError, match=f"cold_start.{setting}"):
        ColdStart(ColdStartSettings(**{setting: value}))
