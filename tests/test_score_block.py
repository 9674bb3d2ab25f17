"""A ScoreBlock gives exactly the ``scores`` records, bytes and redaction of one decision each."""

import pickle

from alertflow.dataflows.job_metrics import JobMetrics
from alertflow.dataflows.run_summary import RunSummary
from alertflow.dataflows.telemetry import LatencyStats
from alertflow.operators.anomaly import RobustEWMA, StreamingEnsemble
from alertflow.operators.anomaly.cold_start import ColdStartSettings
from alertflow.operators.decisions import Decision
from alertflow.operators.delivery.output_redaction import OutputRedactor
from alertflow.operators.score_block import ScoreBlock, expand
from alertflow.operators.scoring import LateSample, ScoringSettings, ShardScorer
from alertflow.schemas.config import RedactionConfig
from alertflow.schemas.records import MetricSample
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9


def _shard(make, **options) -> ShardScorer:
    return ShardScorer(ScoringSettings(**options), make, idle_ns=10 * S)


def _ensemble() -> StreamingEnsemble:
    return StreamingEnsemble(warmup=8)


def _ewma() -> RobustEWMA:  # no rows kernel: the per-sample path
    return RobustEWMA(warmup=8)


def _view(decisions: list) -> list:
    return [
        (d.stream, d.key, d.record, d.inputs, d.read_ns) if isinstance(d, Decision) else d
        for d in decisions
    ]


def _split(out: list) -> tuple[list, list]:
    """(the scores records, everything else) of one ``process`` call, each in order."""
    scores = [d for d in expand(out) if getattr(d, "stream", "") == "scores"]
    return scores, [d for d in out if getattr(d, "stream", "") != "scores"]


_text = st.one_of(
    st.sampled_from(["a", "web-1", "bob@example.org", "10.0.0.1:9100", "x y 10.1.2.3",
                     '"quoted"\n', "ünï", "\u2028", "555-123-4567"]),
    st.text(max_size=6),
)
_labels = st.dictionaries(st.sampled_from(["job", "instance", "id", "owner", "é"]), _text,
                          max_size=3)
_series = st.tuples(st.sampled_from(["m", "up", "x@example.org"]), _labels)
# a step: (series, seconds since its last sample, value)
_step = st.tuples(
    st.integers(0, 3),
    st.sampled_from([10, 10, 10, 0, -5, -400, 20]),
    st.one_of(st.floats(0, 5), st.just(300.0), st.just(float("nan")), st.just(float("inf")),
              st.integers(0, 3)),
)
_polls = st.lists(st.lists(_step, min_size=1, max_size=10), min_size=1, max_size=30)


def _items(polls: list, series: list) -> list[list]:
    clock: dict[int, int] = {}
    out = []
    for p, poll in enumerate(polls):
        items = []
        for s, step, value in poll:
            clock[s] = clock.get(s, 1_700_000_000) + step
            name, labels = series[s % len(series)]
            key = f"{name}{sorted(labels.items())}#{s}"
            items.append((key, MetricSample(name, dict(labels), clock[s] * S, value,
                                            f"t:0:{p}.{len(items)}", p + 1)))
        out.append(items)
    return out


@settings(max_examples=60, deadline=None)
@given(_polls, st.lists(_series, min_size=1, max_size=4), st.booleans(), st.booleans())
def test_block_path_equals_record_path(polls, series, stacked, cold):
    make = _ensemble if stacked else _ewma
    options = {"emit_scores": True, "cold_start": ColdStartSettings(enabled=cold)}
    blocks, records = _shard(make, **options), _shard(make, **options)
    redact_b, redact_r = OutputRedactor(RedactionConfig()), OutputRedactor(RedactionConfig())
    for i, poll in enumerate(_items(polls, series)):
        if i == 3:  # a snapshot restored mid-stream
            blocks = pickle.loads(pickle.dumps(blocks))
        got = blocks.process(poll, i, blocks=True)
        want = records.process(poll, i)
        assert sum(isinstance(d, ScoreBlock) for d in got) <= 1
        got_scores, got_rest = _split(got)
        want_scores, want_rest = _split(want)
        assert _view(got_rest) == _view(want_rest)
        assert _view(got_scores) == _view(want_scores)
        # the bytes: the block's own encoding is the records' encoding, line for line
        block = next((d for d in got if isinstance(d, ScoreBlock)), ScoreBlock())
        assert [m[0] for m in block.messages()] == [d.encode() for d in want_scores]
        assert [m[1] for m in block.messages()] == [d.key.encode() for d in want_scores]
        assert pickle.loads(pickle.dumps(block)).encode() == block.encode()
        # redaction: a block (clean, or fallen back to decisions) == the records redacted
        got, want = _decisions(got), _decisions(want)
        redacted = [d.encode() for d in expand(redact_b.redact_all(got)) if d.stream == "scores"]
        assert redacted == [d.encode() for d in redact_r.redact_all(want) if d.stream == "scores"]


def _decisions(out: list) -> list:
    return [d for d in out if not isinstance(d, LateSample)]


def _block(rows: list) -> ScoreBlock:
    block = ScoreBlock()
    for key, name, labels, value, detectors, severity in rows:
        sample = MetricSample(name, labels, 1_700_000_000 * S, value, "t:0:1", 5)
        block.rows.append(("0" * 16, key, sample, 0.5, value, 0.0, float("inf"),
                           detectors, severity))
    return block


_rows = st.lists(
    st.tuples(_text, _text, _labels, st.floats(allow_nan=True), st.lists(_text, max_size=2),
              st.sampled_from(["info", "warning", "critical", "bob@example.org"])),
    min_size=1, max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(_rows, st.booleans())
def test_arbitrary_rows_encode_and_redact_as_records(rows, ips_in_identifiers):
    block = _block(rows)
    decisions = block.decisions()
    assert block.encode() == b"\n".join(d.encode() for d in decisions)
    config = RedactionConfig(ips_in_identifiers=ips_in_identifiers)
    got = OutputRedactor(config).redact_all(["pass", block][1:])
    want = OutputRedactor(config).redact_all(block.decisions())
    assert b"\n".join(d.encode() for d in expand(got)) == b"\n".join(d.encode() for d in want)
    # the JSON sink writes ``encode() + newline`` per item: a clean block writes the same
    assert b"".join(d.encode() + b"\n" for d in got) == b"".join(d.encode() + b"\n" for d in want)


def test_a_record_to_scrub_turns_the_block_into_decisions():
    clean = ("m{job=a}", "m", {"job": "a"}, 1.0, [], "warning")
    block = _block([clean, ("m{o}", "m", {"owner": "bob@example.org"}, 2.0, [], "warning")])
    out = OutputRedactor(RedactionConfig()).redact_all([block])
    assert [type(d) for d in out] == [Decision, Decision]
    assert out[1].record["labels"] == {"owner": "[REDACTED:email]"}
    kept = OutputRedactor(RedactionConfig()).redact_all([_block([clean, clean])])
    assert [type(d) for d in kept] == [ScoreBlock]


def test_summary_counts_each_row():
    summary = RunSummary()
    rows = [("k", "m", {}, 1.0, [], "info")] * 3
    summary.record("s", [_block(rows), Decision("anomalies", "k", {"severity": "critical"})])
    assert summary.counts()[1] == {"scores": 3, "anomalies": 1}


def test_labels_of_another_shape_encode_record_by_record():
    # "},{"id":" inside the labels (a list of objects): not a boundary between records
    odd = {"nested": [{"id": "a"}, {"id": "b"}]}
    block = _block([("k", "m", odd, 1.0, [], "info"), ("k2", "m", {}, 2.0, ["x"], "warning")])
    assert block.encode() == b"\n".join(d.encode() for d in block.decisions())
    assert [v for v, _ in block.messages()] == [d.encode() for d in block.decisions()]


def test_a_series_whose_labels_change_is_judged_again():
    redactor = OutputRedactor(RedactionConfig())
    assert type(redactor.redact_all([_block([("k", "m", {"o": "a"}, 1.0, [], "info")])])[0]) \
        is ScoreBlock
    out = redactor.redact_all([_block([("k", "m", {"o": "bob@example.org"}, 1.0, [], "info")])])
    assert out[0].record["labels"] == {"o": "[REDACTED:email]"}
    out = redactor.redact_all([_block([("k", "bob@example.org", {"o": "a"}, 1.0, [], "info")])])
    assert out[0].record["name"] == "[REDACTED:email]"


def test_latency_stats_count_each_row(tmp_path, monkeypatch):
    monkeypatch.setattr("time.time_ns", lambda: 9 * 10**9)
    rows = [("k", "m", {}, 1.0, [], "info")] * 3
    by_block, by_record = LatencyStats(tmp_path / "a"), LatencyStats(tmp_path / "b")
    for stats in (by_block, by_record):
        stats._writer = object()  # counting only, no file-writing thread
    block = _block(rows)
    block.rows[1] = (*block.rows[1][:2], MetricSample("m", {}, 1, 1.0, "t:0:2", 0), *block.rows[1][3:])
    by_block.record_all([block])
    by_record.record_all(block.decisions())
    assert by_block.per_stream == by_record.per_stream == {"scores": 3}
    assert by_block.histogram == by_record.histogram
    assert by_block.histogram.count == 2  # the row read at 0 has no latency


def test_job_metrics_bin_each_row(monkeypatch):
    monkeypatch.setattr("time.time_ns", lambda: 9 * 10**9)
    block = _block([("k", "m", {}, 1.0, [], "info")] * 4)
    by_block, by_record = JobMetrics(RunSummary()), JobMetrics(RunSummary())
    by_block.observe("s", [block, Decision("anomalies", "k", {}, (), 8 * 10**9)])
    by_record.observe("s", [*block.decisions(), Decision("anomalies", "k", {}, (), 8 * 10**9)])
    assert by_block._latency_counts.tolist() == by_record._latency_counts.tolist()
    assert by_block._latency_counts.sum() == 5
