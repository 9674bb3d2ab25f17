"""CPU per sample of each step of alertflow's metrics path, in-process, without the engine.

Run from the repository root::

    .venv/bin/python -m bench.throughput_steps              # N=300k over K=1,000 series, R=3
    .venv/bin/python -m bench.throughput_steps -n 50000 -r 5

The input is bench/throughput.py's (prometheus-kafka-adapter JSON, the same values),
cut into polls of ``kafka.batch_size`` messages. Each step runs the product's own
code on the previous step's output, in the order the flow runs them, with
``scoring.emit_scores=true`` as in the throughput bench:

- decode: ``Intake.decode_batch`` (JSON, the adapter's fields, the read stamp);
- labels + key: ``SeriesNormalizer`` label hygiene and series key (its cache);
- sharding: grouping a poll's ``(series_key, sample)`` pairs by shard;
- detector: the ensemble's kernel (one call per shard batch where the revision
  stacks states, else ``update`` per sample) + the cold start's;
- dispatch + records: ``ShardScorer.process`` less the detector: duplicate and
  lateness checks, per-series dispatch, building each output ``Decision`` (or, where
  the revision has them, a ``ScoreBlock``'s rows, as the flow's scoring step asks);
- redact: ``OutputRedactor.redact_all`` (``governance.redact_outputs``, on by default);
- bookkeeping: the run summary's and the in-job latency histogram's counting;
- encode: ``Decision.encode`` (JSON bytes; a block's, all its records');
- produce: the Kafka sink's ``write_batch`` on a real Tansu broker, less encode
  (queueing each message into librdkafka, then waiting for the acks).

The garbage collector runs as in the flow: the bench's own input is frozen, and the
runner's young-generation threshold applies where the revision has one; collections
are counted in the step that triggered them. Times are the calling thread's CPU
(``time.thread_time``), so other processes of a busy machine inflate them less than
wall time would; produce also shows its wall
time (the wait for the broker's acks). Every figure is the median of R repetitions,
each on fresh state. The flow's whole CPU per sample (bench/throughput.py) minus
the sum of these is the engine's share.
"""

import argparse
import gc
import inspect
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alertflow.dataflows import runner
from alertflow.dataflows.logic import make_shard_scorer
from alertflow.dataflows.run_summary import RunSummary
from alertflow.dataflows.sources import FileLine
from alertflow.dataflows.telemetry import LatencyStats
from alertflow.operators.anomaly.cold_start import ColdStart
from alertflow.operators.delivery.output_redaction import OutputRedactor
from alertflow.operators.intake import Intake
from alertflow.operators.normalize import SeriesNormalizer
from alertflow.operators.scoring import ShardScorer
from alertflow.schemas.config import AlertflowConfig

from bench.throughput import Samples

STEPS = ("decode", "labels + key", "sharding", "detector", "dispatch + records",
         "redact", "bookkeeping", "encode", "produce (CPU)", "produce (wall, acks)")


class _Message(FileLine):
    """A Kafka message's calls (``partition()`` is a number), over bench bytes."""

    __slots__ = ()

    def partition(self) -> int:  # type: ignore[override]
        """Partition 0."""
        return 0


def polls(n: int, k: int, batch: int) -> list[list[_Message]]:
    """The throughput bench's first ``n`` messages, round after round, as polls."""
    samples = Samples(k, partitions=1)
    messages = [_Message("bench.in", i, samples.value(*divmod(i, k))) for i in range(n)]
    return [messages[i : i + batch] for i in range(0, n, batch)]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.thread_time()
    out = fn()
    return time.thread_time() - start, out


def one_run(config: AlertflowConfig, input_polls: list[list[_Message]], sink: Any) -> dict:
    """Every step once over the whole input; CPU seconds per step."""
    spent = dict.fromkeys(STEPS, 0.0)
    intake = Intake("metrics")
    normalizer = SeriesNormalizer(shards=config.scoring.shards)
    scorers: dict[str, Any] = {}
    summary = RunSummary()
    redactor = OutputRedactor(config.redaction)
    stats = LatencyStats(Path("unused.stats"))
    stats._writer = threading.current_thread()  # counting only: no file-writing thread
    # As the flow's scoring step asks, where the revision has them: ``scores`` as blocks.
    process = inspect.signature(ShardScorer.process).parameters
    blocks = {"blocks": True} if "blocks" in process else {}
    for poll in input_polls:
        took, decoded = _timed(lambda p=poll: intake.decode_batch([p]))
        spent["decode"] += took
        records = decoded[0]
        # Label hygiene and key (the normaliser's cached lookup) alone, then with the grouping.
        took_key, _ = _timed(lambda r=records: [normalizer._lookup(s) for s in r])
        spent["labels + key"] += took_key
        took, shards = _timed(lambda r=records: normalizer.shard_batches(r))
        spent["sharding"] += took - took_key
        decisions: list = []
        start = time.thread_time()
        for shard, items in shards:
            scorer = scorers.get(shard) or scorers.setdefault(shard, make_shard_scorer(config))
            # Closed level buckets go to correlation only (the flow's scoring step splits them).
            decisions.extend(d for d in scorer.process(items, time.time_ns(), **blocks)
                             if type(d).__name__ != "LevelSignal")  # fmt: skip
        spent["dispatch + records"] += time.thread_time() - start
        took, decisions = _timed(lambda d=decisions: redactor.redact_all(d))
        spent["redact"] += took
        took, _ = _timed(lambda d=decisions: (summary.record("s", d), stats.record_all(d)))
        spent["bookkeeping"] += took
        took, _ = _timed(lambda d=decisions: [x.encode() for x in d])
        spent["encode"] += took
        wall = time.perf_counter()
        took, _ = _timed(lambda d=decisions: sink.write_batch([d]))
        spent["produce (CPU)"] += took
        spent["produce (wall, acks)"] += time.perf_counter() - wall
    spent["produce (CPU)"] -= spent["encode"]
    spent["produce (wall, acks)"] -= spent["encode"]
    detector = detector_cost(config, input_polls)
    spent["detector"] = detector
    spent["dispatch + records"] -= detector
    return spent


def detector_cost(config: AlertflowConfig, input_polls: list[list[_Message]]) -> float:
    """CPU of the detectors (and cold starts) alone, on the same samples in the same order.

    Where the revision scores a shard's samples in one kernel call over stacked states
    (operators/anomaly/stacked.py), so does this; otherwise one ``update`` per sample.
    """
    intake = Intake("metrics")
    normalizer = SeriesNormalizer(shards=config.scoring.shards)
    scorer = make_shard_scorer(config)
    pairs = [p for poll in input_polls for p in normalizer.shard_batches(
        intake.decode_batch([poll])[0])]
    try:
        from alertflow.operators.anomaly.stacked import StackedStates
    except ImportError:  # a revision before stacked scoring
        StackedStates = None
    if StackedStates is not None and StackedStates.can_stack(scorer.make_detector()):
        return _stacked_cost(scorer, pairs, StackedStates)
    series: dict[str, Any] = {}
    for _, items in pairs:
        for key, _sample in items:
            if key not in series:
                fresh = scorer.make_detector()
                cold = ColdStart(scorer.settings.cold_start)
                series[key] = (fresh.update, cold.update, [fresh.warmup])
    start = time.thread_time()
    for _, items in pairs:
        for key, sample in items:
            update, cold, left = series[key]
            update(sample.value, sample.ts_ns)
            if left[0] > 0:
                left[0] -= 1
                cold(sample.value)
    return time.thread_time() - start


def _stacked_cost(scorer: Any, pairs: list, stacked: Any) -> float:
    """The kernel calls over each shard batch's distinct series, plus the cold starts."""
    stacks: dict[str, Any] = {}
    series: dict[str, Any] = {}
    for shard, items in pairs:
        for key, _sample in items:
            if key not in series:
                fresh = scorer.make_detector()
                stack = stacks.get(shard) or stacks.setdefault(shard, stacked(fresh))
                cold = ColdStart(scorer.settings.cold_start)
                series[key] = (stack.adopt(fresh), cold.update, [fresh.warmup])
    start = time.thread_time()
    for shard, items in pairs:
        stack, pending = stacks[shard], {}
        for key, sample in items:
            row, cold, left = series[key]
            if row in pending:
                _flush(stack, pending)
            pending[row] = sample
            if left[0] > 0:
                left[0] -= 1
                cold(sample.value)
        _flush(stack, pending)
    return time.thread_time() - start


def _flush(stack: Any, pending: dict) -> None:
    if pending:
        samples = list(pending.values())
        stack.update(list(pending), [s.value for s in samples], [s.ts_ns for s in samples])
        pending.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput_steps",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", "-n", type=int, default=300_000)
    parser.add_argument("--series", "-k", type=int, default=1000)
    parser.add_argument("--repeats", "-r", type=int, default=3)
    args = parser.parse_args(argv)
    from alertflow.dataflows.kafka_io import KafkaDecisionSink
    from alertflow.schemas.config import load_config

    from bench.broker import running_broker

    config = load_config(None, {"scoring.emit_scores": True})
    input_polls = polls(args.samples, args.series, config.kafka.batch_size)
    # The kernels' first call loads them from numba's cache: start-up, not a step's cost.
    warm = make_shard_scorer(config)
    warm.process([("warm-up", s) for s in Intake("metrics").decode_batch(input_polls[:1])[0]], 0)
    # The input list is the bench's, not the flow's: frozen, it stays out of collections.
    # Collections then run as in the flow (the runner's settings where it has them).
    gc.collect()
    gc.freeze()
    young = getattr(runner, "GC_YOUNG_THRESHOLD", None)
    if young is not None:
        gc.set_threshold(young, *gc.get_threshold()[1:])
    runs = []
    with running_broker() as broker:
        for rep in range(args.repeats):
            prefix = f"steps{rep}."
            broker.create_topics(prefix + "scores", prefix + "anomalies")
            sink = KafkaDecisionSink([broker.bootstrap], config.kafka, prefix).build("out", 0, 1)
            runs.append(one_run(config, input_polls, sink))
            sink.close()
    print(f"N={args.samples:,} samples over K={args.series:,} series, polls of "
          f"{config.kafka.batch_size}, emit_scores=true; medians of R={args.repeats}\n")
    print("| step | µs per sample |\n|---|---:|")
    total = 0.0
    for step in STEPS:
        us = statistics.median(r[step] for r in runs) / args.samples * 1e6
        if step != "produce (wall, acks)":
            total += us
        print(f"| {step} | {us:.2f} |")
    print(f"| **sum (CPU)** | **{total:.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
