"""The scoring step's shard lists of one activation join one list: same decisions per stream."""

from alertflow.dataflows.flow import _joined
from alertflow.operators.anomaly import StreamingEnsemble
from alertflow.operators.decisions import Decision
from alertflow.operators.score_block import ScoreBlock, expand
from alertflow.operators.scoring import ScoringSettings, ShardScorer
from alertflow.schemas.records import MetricSample
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9

# per shard: its polls' samples as (series, seconds since its last sample, value)
_shard_polls = st.lists(
    st.lists(st.tuples(st.integers(0, 3), st.sampled_from([10, 10, 0, -400]),
                       st.one_of(st.floats(0, 5), st.just(300.0), st.just(float("nan")))),
             min_size=1, max_size=4),
    min_size=0, max_size=3,
)


def _shard_output(shard: int, polls: list, clock: dict) -> list:
    scorer = ShardScorer(ScoringSettings(emit_scores=True, threshold=0.1),
                         lambda: StreamingEnsemble(warmup=2), idle_ns=10 * S)
    out: list = []
    for p, poll in enumerate(polls):
        items = []
        for series, step, value in poll:
            k = (shard, series)
            clock[k] = clock.get(k, 1_700_000_000) + step
            key = f"m{{s=\"{shard}.{series}\"}}"
            items.append((key, MetricSample("m", {"s": f"{shard}.{series}"}, clock[k] * S,
                                            value, f"t:{shard}:{p}", 1)))
        out.extend(d for d in scorer.process(items, 0, blocks=True) if hasattr(d, "stream"))
    return out


def _per_stream(items: list) -> dict[str, list[bytes]]:
    streams: dict[str, list[bytes]] = {}
    for d in expand(items):
        streams.setdefault(d.stream, []).append(d.key.encode() + b"\t" + d.encode())
    return streams


@settings(max_examples=60, deadline=None)
@given(st.lists(_shard_polls, min_size=0, max_size=5))
def test_joined_lists_keep_every_stream_in_order_with_one_block(shards):
    clock: dict = {}
    keyed = [(str(i), _shard_output(i, polls, clock)) for i, polls in enumerate(shards)]
    keyed = [(k, part) for k, part in keyed if part]  # the engine passes no empty lists
    joined = _joined(keyed)
    every = [item for _, part in keyed for item in part]
    if not every:
        assert joined == []
        return
    assert len(joined) == 1
    blocks = [d for d in joined[0] if type(d) is ScoreBlock]
    assert len(blocks) == (1 if any(type(d) is ScoreBlock for d in every) else 0)
    assert all(type(d) is Decision for d in joined[0] if type(d) is not ScoreBlock)
    # Each stream's records, bytes and keys, in the order the shard lists held them.
    assert _per_stream(joined[0]) == _per_stream(every)
    # The joined block encodes as its parts did, line for line.
    if blocks:
        parts = [m for d in every if type(d) is ScoreBlock for m in d.messages()]
        assert blocks[0].messages() == parts


def test_closed_level_buckets_stay_a_list_of_their_own():
    """Scoring's level lists go to correlation apart from the decisions (rank4 + lat3)."""
    from alertflow.operators.correlation.rank_levels import LevelSignal

    clock: dict = {}
    decisions = _shard_output(0, [[(0, 10, 1.0), (1, 10, 2.0)]], clock)
    levels_a = [LevelSignal("a", {}, 1, 300.0, 1.0, 2.0, 4.0)]
    levels_b = [LevelSignal("b", {}, 1, 300.0, 2.0, 3.0, 5.0)]
    joined = _joined([("0", decisions), ("0", levels_a), ("1", levels_b)])
    assert len(joined) == 2
    assert all(type(d) is not LevelSignal for d in joined[0])
    assert joined[1] == levels_a + levels_b
    assert _joined([("1", levels_b)]) == [levels_b]
