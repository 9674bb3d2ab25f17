"""The indexed learned inhibition keeps the state of the scanning one, and its own bound."""

import pickle

from alertflow.operators.correlation.inhibition import (
    InhibitionSettings,
    LearnedInhibition,
    _Pair,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference_inhibition import ReferenceInhibition

S = 10**9
T0 = 1_795_600_800 * S
WINDOW = 300


def state(rules):
    """Everything either implementation learnt, in its order."""
    kinds = [
        (name, k.born, k.episodes, k.covered_ns,
         [(s, *_counts(p)) for s, p in k.followers.items()])
        for name, k in rules.kinds.items()
    ]  # fmt: skip
    return kinds, rules.births, rules.recent, rules.first_ns, rules.newest_ns, rules.late


def _counts(pair):
    """(born, followed, preceded): a tuple here, a ``_Pair`` in the reference."""
    return tuple(pair) if isinstance(pair, tuple) else (pair.born, pair.followed, pair.preceded)


KINDS = "ABCDEFGH"
start_st = st.tuples(st.sampled_from(KINDS), st.integers(0, 4 * WINDOW))
# Some with many starts of few kinds within a window: walks back are cut short.
starts_st = st.lists(start_st, min_size=1, max_size=40) | st.lists(
    start_st, min_size=80, max_size=200
)
bounds_st = st.fixed_dictionaries({
    "max_kinds": st.integers(2, 9),
    "max_followers": st.integers(1, 8),
    "max_recent": st.integers(1, 120),
    # 8: every other kind fits, and a walk back over more than 4 x 8 starts is cut short
    "max_partners": st.sampled_from([8, 32]),
    "min_support": st.integers(1, 3),
    "min_lift": st.sampled_from([0.0, 2.0]),
    "min_confidence": st.sampled_from([0.1, 0.6]),
})  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(starts=starts_st, bounds=bounds_st, data=st.data())
def test_the_index_keeps_the_scanning_state_while_partners_fit(starts, bounds, data):
    # Arrivals up to a window late, and some later still (ignored as late by both).
    n = len(starts)
    delays = data.draw(st.lists(st.integers(0, 2 * WINDOW), min_size=n, max_size=n))
    arrival = sorted(range(n), key=lambda i: (starts[i][1] + delays[i], i))
    window = InhibitionSettings(window_s=WINDOW, **bounds)
    indexed, scanning = LearnedInhibition(window), ReferenceInhibition(window)
    for i in arrival:
        kind, at = starts[i]
        indexed.observe(kind, T0 + at * S)
        scanning.observe(kind, T0 + at * S)
        assert state(indexed) == state(scanning)
    assert indexed.rules(limit=1000) == scanning.rules(limit=1000)
    for symptom in KINDS:
        expected = {c for c in KINDS if scanning.explains(c, symptom) is not None}
        assert set(indexed.causes_of(symptom)) == expected
    copy = pickle.loads(pickle.dumps(indexed))
    copy.observe("A", T0 + 9 * WINDOW * S)
    indexed.observe("A", T0 + 9 * WINDOW * S)
    assert state(copy) == state(indexed)


def test_a_start_pairs_with_the_kinds_that_started_last():
    rules = LearnedInhibition(InhibitionSettings(max_partners=2, min_support=1, min_lift=0))
    for i, kind in enumerate(("A", "B", "C")):
        rules.observe(kind, T0 + i * S)
    rules.observe("D", T0 + 10 * S)
    followed_by_d = {c for c, k in rules.kinds.items() if "D" in k.followers}
    assert followed_by_d == {"B", "C"}  # A started before the two last: not paired


def _b_after_a() -> LearnedInhibition:
    """Rules that learned B follows A: three hours, B a minute after A each."""
    rules = LearnedInhibition(InhibitionSettings(min_support=1, min_lift=0))
    for i in range(3):
        rules.observe("A", T0 + i * 3600 * S)
        rules.observe("B", T0 + (i * 3600 + 60) * S)
    return rules


def test_a_snapshot_without_the_indexes_rebuilds_them():
    rules = _b_after_a()
    old = pickle.loads(pickle.dumps(rules))
    del old.__dict__["starts"], old.__dict__["supported"]
    copy = pickle.loads(pickle.dumps(old))
    assert copy.starts == rules.starts and copy.supported == rules.supported
    assert copy.causes_of("B") == ["A"]


def test_a_snapshot_with_pair_objects_restores_them_as_tuples():
    rules = _b_after_a()
    old = pickle.loads(pickle.dumps(rules))
    for kind in old.kinds.values():  # as a snapshot from before pairs were tuples holds them
        kind.followers = {s: _Pair(*p) for s, p in kind.followers.items()}
    copy = pickle.loads(pickle.dumps(old))
    assert state(copy) == state(rules)
    assert all(type(p) is tuple for k in copy.kinds.values() for p in k.followers.values())
    assert copy.causes_of("B") == ["A"]
