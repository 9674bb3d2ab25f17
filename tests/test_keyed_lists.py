"""Keyed steps fed a list per key and batch see what per-item keying gave them."""

from functools import partial

import bytewax.operators as op
from alertflow.dataflows.logic import _flat, joined, keyed_batch, keyed_lists
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic
from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import given, settings
from hypothesis import strategies as st

_batches = st.lists(
    st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 9)), min_size=1, max_size=12),
    min_size=1,
    max_size=8,
)


def _key(item: tuple[str, int]) -> str:
    return item[0]


class _Recorder(StatefulBatchLogic):
    """Emits, per call, the key and the items the call got (flattened when grouped)."""

    def __init__(self, state: object, flatten: bool) -> None:
        self.flatten = flatten

    def on_batch(self, values: list) -> tuple[list, bool]:
        items = _flat(values) if self.flatten else values
        return [list(items)], False

    def snapshot(self) -> None:
        return None


def _seen(
    batches: list[list[tuple[str, int]]], grouped: bool, way: str = "", size: int = 1
) -> dict[str, list]:
    flow = Dataflow("keyed")
    batch = op.input("in", flow, TestingSource(batches, batch_size=size))
    if way == "batch":  # the flow's way: every list of an engine batch keyed at once
        keyed = op.flat_map_batch("key", batch, partial(keyed_batch, key=_key))
    elif grouped:
        keyed = op.flat_map("key", batch, partial(keyed_lists, key=_key))
    else:
        keyed = op.key_on("key", op.flatten("flat", batch), _key)
    out: list = []
    calls = op.stateful_batch("rec", keyed, partial(_Recorder, flatten=grouped))
    op.output("out", calls, TestingSink(out))
    run_main(flow)
    seen: dict[str, list] = {}
    for key, items in out:
        seen.setdefault(key, []).append(items)
    return seen  # per key, the items of each call


@settings(max_examples=30, deadline=None)
@given(_batches, st.integers(1, 4))
def test_each_key_sees_the_same_calls_with_the_same_items(batches, size):
    # size > 1: several lists reach the keying step at once, and keyed_batch joins them.
    per_item = _seen(batches, grouped=False, size=size)
    assert _seen(batches, grouped=True, size=size) == per_item
    assert _seen(batches, grouped=True, way="batch", size=size) == per_item


@given(st.lists(st.lists(st.tuples(st.sampled_from("abc"), st.integers()), max_size=6), max_size=5))
def test_keyed_batch_is_keyed_lists_of_the_lists_joined(lists):
    items = [item for part in lists for item in part]
    assert keyed_batch(lists, key=_key) == keyed_lists(items, key=_key)
    assert joined(lists) == ([items] if items else [])


@settings(max_examples=20, deadline=None)
@given(_batches, st.integers(1, 4))
def test_joined_lists_carry_every_item_once_in_order(batches, size):
    flow = Dataflow("joined")
    lists = op.input("in", flow, TestingSource(batches, batch_size=size))
    out: list = []
    op.output("out", op.flat_map_batch("join", lists, joined), TestingSink(out))
    run_main(flow)
    assert [item for part in out for item in part] == [item for b in batches for item in b]
    assert all(out)  # no empty list goes on


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers())))
def test_keyed_lists_keeps_each_keys_items_in_arrival_order(batch):
    groups = keyed_lists(batch, key=_key)
    assert [k for k, _ in groups] == list(dict.fromkeys(k for k, _ in batch))
    for k, items in groups:
        assert items == [item for item in batch if item[0] == k]


def test_flat_joins_the_lists_of_one_call_in_order():
    assert _flat([[1, 2]]) == [1, 2]
    assert _flat([[1], [2, 3], [4]]) == [1, 2, 3, 4]
