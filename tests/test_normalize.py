import pickle

import pytest
from alertflow.operators.normalize import (
    LabelPolicy,
    SeriesNormalizer,
    ShardItems,
    clean_labels,
    series_key,
)
from alertflow.schemas.records import MetricSample
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("labels", "policy", "expected"),
    [
        ({"job": "api"}, LabelPolicy(), {"job": "api"}),
        ({"job": "", "env": "prod"}, LabelPolicy(), {"env": "prod"}),
        ({"__name__": "up", "job": "api"}, LabelPolicy(), {"job": "api"}),
        ({"service.name": "cart"}, LabelPolicy(), {"service_name": "cart"}),
        (
            {"pod_template_hash": "abc", "pod": "p"},
            LabelPolicy(frozenset({"pod_template_hash"})),
            {"pod": "p"},
        ),
        ({"msg": "x" * 300}, LabelPolicy(max_value_len=5), {"msg": "xxxxx"}),
        ({" job ": " api "}, LabelPolicy(), {"job": "api"}),
    ],
)
def test_clean_labels(labels, policy, expected):
    assert clean_labels(labels, policy) == expected


@pytest.mark.parametrize(
    ("name", "labels", "expected"),
    [
        ("up", {}, "up"),
        ("up", {"b": "2", "a": "1"}, 'up{a="1",b="2"}'),
        ("up", {"a": 'say "hi"\n'}, 'up{a="say \\"hi\\"\\n"}'),
    ],
)
def test_series_key(name, labels, expected):
    assert series_key(name, labels) == expected


def test_label_order_does_not_change_the_key():
    norm = SeriesNormalizer()
    a = MetricSample("cpu", {"host": "h", "job": "node"}, 1, 1.0)
    b = MetricSample("cpu", {"job": "node", "host": "h"}, 2, 1.0)
    ((_, [(ka, _), (kb, _)]),) = norm.shard_batches([a, b])
    assert ka == kb == 'cpu{host="h",job="node"}'


def test_cache_is_bounded():
    norm = SeriesNormalizer(cache_size=10)
    samples = [MetricSample("m", {"i": str(i)}, 1, 1.0) for i in range(25)]
    keys = [k for _, group in norm.shard_batches(samples) for k, _ in group]
    assert len(set(keys)) == 25
    assert len(norm._cache) <= 10


@given(st.lists(st.tuples(st.sampled_from(["up", "cpu"]),
                          st.dictionaries(st.sampled_from(["job", "pod"]), st.text(max_size=3)),
                          st.integers(0, 2**63), st.floats(allow_nan=False),
                          st.text(max_size=5), st.integers(0, 2**63)), max_size=30))
def test_shard_batches_cross_a_process_boundary_unchanged(rows):
    # The engine pickles a shard's pairs to send them to another process: as columns.
    samples = [MetricSample(*row) for row in rows]
    batches = SeriesNormalizer(shards=4).shard_batches(samples)
    back = pickle.loads(pickle.dumps(batches))
    assert back == batches
    assert all(type(items) is ShardItems for _, items in back)
    for (_, sent), (_, got) in zip(batches, back, strict=True):
        # A series' samples still share one labels dict, as they did before crossing.
        shared = {id(s.labels) for _, s in sent}
        assert len({id(s.labels) for _, s in got}) == len(shared)
