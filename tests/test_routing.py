"""State keys routed beside the worker that reads a partition (dataflows.routing)."""

import threading

import bytewax.operators as op
import pytest
from alertflow.dataflows.routing import (
    PERIOD,
    LocalShards,
    key_beside,
    key_hash,
    remember_parts,
    worker_of,
)
from alertflow.operators.normalize import SeriesNormalizer, shard_of
from alertflow.schemas.records import MetricSample
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import cluster_main


class _Part(StatefulSourcePartition):
    def __init__(self, items: list, read_by: dict, part: str) -> None:
        read_by[part] = threading.get_ident()
        self.items = items

    def next_batch(self) -> list:
        if not self.items:
            raise StopIteration
        items, self.items = self.items, []
        return items

    def snapshot(self) -> None:
        return None


class _Parts(FixedPartitionedSource):
    """Each part emits ``(key, part)`` for the keys given for it."""

    def __init__(self, keys: dict[str, list[str]], read_by: dict) -> None:
        self.keys = keys
        self.read_by = read_by

    def list_parts(self) -> list[str]:
        return list(self.keys)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Part:
        return _Part([(key, for_part) for key in self.keys[for_part]], self.read_by, for_part)


def _threads(keys: dict[str, list[str]], workers: int) -> tuple[dict, dict]:
    """Which thread read each part, and which ran the keyed step for each key."""
    read_by: dict[str, int] = {}
    ran_on: dict[str, int] = {}

    def keyed(state: None, part: str) -> tuple[None, tuple[str, int]]:
        return None, (part, threading.get_ident())

    flow = Dataflow("routing")
    items = op.input("in", flow, _Parts(keys, read_by))
    seen = op.stateful_map("keyed", items, keyed)
    op.inspect("record", seen, lambda _step, kv: ran_on.__setitem__(kv[0], kv[1][1]))
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return read_by, ran_on


@pytest.mark.parametrize(("workers", "parts"), [(2, 2), (3, 5), (4, 12)])
def test_keys_beside_a_part_run_on_the_worker_that_read_it(workers, parts):
    names = [f"{p}-metrics" for p in range(parts)]
    order = sorted(names)  # "10-metrics" before "2-metrics", as Bytewax orders them
    keys = {n: [key_beside(f"metrics/{n}.s{s}", order.index(n)) for s in range(6)] for n in names}
    read_by, ran_on = _threads(keys, workers)
    assert len(set(read_by.values())) == workers
    for part, part_keys in keys.items():
        assert [ran_on[k] for k in part_keys] == [read_by[part]] * len(part_keys), part


def test_the_hash_is_the_engines_for_any_key():
    keys = ["", "s0", "s63", "ü€", "x" * 40, *(f"k{i}" for i in range(30))]
    _, ran_on = _threads({"0-t": keys}, 3)
    index = {thread: worker_of(key, 3) for key, thread in ran_on.items()}
    # Three threads, three hash classes: each key sits in the class of its thread.
    assert len(set(ran_on.values())) == 3
    assert all(index[ran_on[k]] == worker_of(k, 3) for k in keys)


def test_a_key_beside_a_part_does_not_depend_on_the_worker_count():
    key = key_beside("alertflow.metrics/7.s3", 7)
    assert key_hash(key) % PERIOD == 7
    assert [worker_of(key, n) for n in (1, 2, 3, 4, 6, 8)] == [7 % n for n in (1, 2, 3, 4, 6, 8)]


def _sample(host: str, ref: str) -> MetricSample:
    return MetricSample("cpu", {"host": host}, 10**9, 1.0, ref)


def test_samples_of_a_listed_partition_take_its_keys_and_others_their_shard():
    remember_parts("rt-topic", ["0-rt-topic", "1-rt-topic"])
    remember_parts("rt-traces", ["0-rt-traces", "1-rt-traces"])
    norm = SeriesNormalizer(shards=4, part_keys=LocalShards(4, frozenset({"rt-topic"})))
    # A file's line, a listed partition of another stream's topic (a service window's
    # evidence span), an unlisted topic: keyed by series, whichever partition they name.
    samples = [_sample("a", "rt-topic/1@5"), _sample("b", "rt-topic/1@6"),
               _sample("a", "in/metrics.jsonl:3"), _sample("a", "rt-traces/1@9"),
               _sample("a", "other/0@1")]  # fmt: skip
    groups = norm.shard_batches(samples)
    keys = {name: [s.ref for _, s in items] for name, items in groups}
    shard_a = int(shard_of('cpu{host="a"}', 4)[1:])
    # Two partitions share the four shards: two each.
    beside = key_beside(f"rt-topic/1.s{shard_a % 2}", 1)
    assert keys[beside][0] == "rt-topic/1@5"
    assert keys[f"s{shard_a}"] == ["in/metrics.jsonl:3", "rt-traces/1@9", "other/0@1"]
    assert sum(len(v) for v in keys.values()) == 5


def test_without_part_keys_the_shards_are_named_as_before():
    samples = [_sample(h, f"t/0@{i}") for i, h in enumerate("abcdefgh")]
    groups = SeriesNormalizer(shards=4).shard_batches(samples)
    for name, items in groups:
        assert {shard_of(key, 4) for key, _ in items} == {name}


def test_a_topics_partitions_share_the_shards():
    remember_parts("rt-three", ["0-rt-three", "1-rt-three", "2-rt-three"])
    keys = LocalShards(64, frozenset({"rt-three"}))("rt-three/2@")
    assert keys is not None
    names = {keys[s] for s in range(64)}
    assert len(names) == 21  # 64 // 3
    assert all(worker_of(name, 3) == 2 for name in names)
    assert keys[5] == keys[26] == key_beside("rt-three/2.s5", 2)
