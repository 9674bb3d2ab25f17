"""The latency bench's second look at outputs it never matched, on a real broker."""

from types import SimpleNamespace

import orjson

from bench.throughput import FlowSpec, LatencyResult, Samples, _recount, instance_of, rfc3339


def _score(round_: int, series: int) -> bytes:
    ts = rfc3339(round_)[:-1] + ".000Z"  # alertflow's spelling of the event time
    return orjson.dumps({"ts": ts, "labels": {"instance": instance_of(series)}})


def test_unmatched_outputs_are_told_apart_written_or_absent(broker):
    samples = Samples(k=4, partitions=1)
    for round_ in range(12):
        samples.value(round_, 0)  # the bench learns each round's event time as it sends
    first = 10  # the first measured round
    spec = FlowSpec("alertflow", 1, broker.bootstrap, "unused.in", "recount.", stop_at_end=False)
    broker.create_topics(spec.out_topic, partitions=1)
    written = [(r, s) for r in (first, first + 1) for s in range(4) if (r, s) != (first + 1, 3)]
    broker.produce(spec.out_topic, [_score(r, s) for r, s in written])
    # The live reader got offsets 0-3 and 5-6: offset 4, i.e. (round 1, series 0), never came.
    reader = SimpleNamespace(first_measured_round=first, reached={0: 6}, read={0: 6})
    result = LatencyResult(sent=8, matched=6, offered_rate=1.0)
    missing = [1 * 4 + 0, 1 * 4 + 3]  # (round 1, series 0) was written; (1, 3) never was
    _recount(result, missing, spec, samples, 1, reader)
    assert (result.missing_in_topic, result.missing_skipped, result.offsets_unread) == (1, 1, 1)
