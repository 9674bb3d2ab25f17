import pickle

import pytest
from alertflow.operators.normalize import (
    LabelPolicy,
    SeriesNormalizer,
    ShardItems,
    clean_labels,
    labels_of_key,
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


_NAMES = st.sampled_from(["up", "cpu", "a{b", 'x{y="1"}', ""])
_LABEL_VALUES = st.text(alphabet='ab"\\\n{}=, ', max_size=4)


@given(st.lists(st.tuples(_NAMES,
                          st.dictionaries(st.sampled_from(["job", "pod", "__name__", "a.b"]),
                                          _LABEL_VALUES),
                          st.integers(0, 2**70), st.floats(allow_nan=False),
                          st.text(max_size=5), st.integers(0, 2**63)), max_size=30))
def test_shard_batches_cross_a_process_boundary_unchanged(rows):
    # The engine pickles a shard's pairs to send them to another process: as columns, a
    # series' name and labels rebuilt from its key where the key spells them.
    samples = [MetricSample(*row) for row in rows]
    batches = SeriesNormalizer(shards=4).shard_batches(samples)
    back = pickle.loads(pickle.dumps(batches))
    assert back == batches
    assert all(type(items) is ShardItems for _, items in back)
    for (_, sent), (_, got) in zip(batches, back, strict=True):
        for (_, a), (_, b) in zip(sent, got, strict=True):
            # Output records list labels in their order: it must survive the crossing.
            assert list(a.labels.items()) == list(b.labels.items())
            assert type(a.name) is type(b.name) and type(a.ts_ns) is type(b.ts_ns)
        # A series' samples still share one labels dict, as they did before crossing.
        assert len({id(s.labels) for _, s in got}) <= len({id(s.labels) for _, s in sent})


@pytest.mark.parametrize(
    ("labels", "sends_labels"),
    [
        ({"__name__": "up", "instance": "a:9100", "job": "api"}, False),  # sorted: by key
        ({"job": "api", "instance": "a:9100"}, True),  # another order: the key cannot say it
        ({"job": 'say "hi"\\n'}, False),
    ],
)
@pytest.mark.parametrize("size", [1, 20])
def test_labels_cross_by_key_only_when_the_key_spells_them(labels, sends_labels, size):
    samples = [MetricSample("up", dict(labels), t, 1.0) for t in range(size)]
    ((_, items),) = SeriesNormalizer(shards=1).shard_batches(samples)
    _, (*_, spelled) = items.__reduce__()
    assert bool(spelled) is sends_labels
    for (_, got), (_, sent) in zip(pickle.loads(pickle.dumps(items)), items, strict=True):
        assert list(got.labels.items()) == list(sent.labels.items())


@pytest.mark.parametrize("size", [1, 20])  # pickled as rows, as columns
def test_pairs_added_by_hand_are_checked_when_pickled(size):
    ((_, items),) = SeriesNormalizer(shards=1).shard_batches(
        [MetricSample("up", {"job": "api"}, t, 1.0) for t in range(size)])
    items.append(('up{job="api"}', MetricSample("up", {"job": "web"}, 2, 2.0)))  # a wrong key
    plain = ShardItems([('up{job="api"}', MetricSample("up", {"job": "api"}, 3, 3.0))])
    for pairs in (items, plain):
        assert pickle.loads(pickle.dumps(pairs)) == pairs


def test_labels_of_key_reads_what_series_key_writes():
    for name, labels in [("up", {}), ("m", {"a": 'x\\y"\n', "b": "", "c": "}{,="})]:
        assert labels_of_key(series_key(name, labels)) == (name, labels)
    assert labels_of_key('up{a="1",a="2"}') is None
    assert labels_of_key('up{a="1"') is None


def test_a_pickle_of_the_former_column_format_still_loads():
    sample = MetricSample("up", {"job": "api"}, 1, 2.0, "t/0@1", 5)
    old = pickle.dumps(  # what main's ShardItems.__reduce__ gave before labels crossed by key
        _OldShardItems([('up{job="api"}', sample)]))
    assert pickle.loads(old) == [('up{job="api"}', sample)]


class _OldShardItems(list):
    def __reduce__(self):
        from alertflow.operators import normalize

        rows = [(key, s.name, s.labels, s.ts_ns, s.value, s.ref, s.read_ns) for key, s in self]
        return (normalize._unpack, tuple(map(list, zip(*rows, strict=True))))
