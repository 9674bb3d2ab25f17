"""Kafka throughput and latency: alertflow against a do-nothing Bytewax passthrough.

Run from the repository root::

    .venv/bin/python -m bench.throughput            # full run (N=300k, 20k/s for 10 s, R=3)
    .venv/bin/python -m bench.throughput --quick    # the guard before a hot-path change (~3 min)
    .venv/bin/python -m bench.throughput --record   # also append the table to BENCHMARKS.md

Everything runs against a real Kafka-protocol broker (Tansu, in memory, on
loopback) that the bench starts afresh for every measurement and stops after it
(Tansu's in-memory log only grows, and gets slower as it does). Two flows are
measured in the same run, on the same input, with the same consumer settings
(``fetch.wait.max.ms``, batch size, ``stop_at_end``) and the same runner
(``dataflows.runner.run``: same epoch interval; the source is wrapped in
``dataflows.shutdown.StoppableSource`` like alertflow's, so SIGTERM drains both):

(a) ``passthrough``: ``KafkaSource`` → ``KafkaSinkMessage`` → ``KafkaSink``, no
    logic; defined here and started as ``python -m bench.throughput passthrough``;
(b) ``alertflow run`` with ``scoring.emit_scores=true``, so every sample yields
    exactly one record on ``alertflow.scores`` (plus the rare anomaly).

Each flow runs as 1 process and as 2 processes (``-i 0``/``-i 1`` with
``-a "127.0.0.1:P1;127.0.0.1:P2"`` on free ports); input topics have 2
partitions, so with 2 processes each reads one.

Input: prometheus-kafka-adapter JSON over K series (the ``instance`` label),
``{"name": ..., "labels": {...}, "timestamp": RFC 3339, "value": "1.234"}``.
Sample ``j`` of series ``s`` (a "round") has the event time ``BASE + j`` seconds,
so ``(round, series)`` identifies every input message and is unique per series
(the scorer drops a repeated timestamp as a duplicate). A series always goes to
partition ``s % partitions`` and is keyed by its instance.

Sustained throughput: the input topic is pre-filled with N samples and each flow
runs with ``kafka.stop_at_end=true`` until it exits. The rate is the number of
output records divided by the span between the first and the last output
message's Kafka timestamp (CreateTime, stamped by the sink's producer when the
flow hands the record over), so process start-up and connection set-up are not
counted and the bench's own reading (done after the flow exited) cannot slow the
flow down. ``N / whole-process wall time`` is reported too.

Latency at a fixed offered load: the flow starts in tail mode on a fresh topic;
full rounds (all K series) are sent slowly until every series of one round came
out, so all processes are up and every series has state. Then a paced producer
(main thread, ``linger.ms=5``, librdkafka's default) offers ``--rate`` samples/s
for ``--settle-s + --load-s`` seconds while a consumer thread
(``fetch.wait.max.ms=10``) reads the output topic. The producer writes each
message's wall-clock send time (ns) into a table indexed by ``(round, series)``;
the consumer stamps each output on receipt and looks its input up by the
output's ``labels.instance`` and event time (``timestamp`` in the passthrough's
copy, ``ts`` in alertflow's score record). That is robust where the
alternatives are not: alertflow's records carry no Kafka headers over, its
``ts`` has millisecond precision (too coarse to carry a send time, and send
times would collide per series), and the input's Kafka timestamp never reaches
the output; the event time at second precision is something every score record
keeps by contract. Only messages sent after the settle period count (the
detector warms up in it). This is produce→consume latency as a downstream
consumer sees it, so it includes the broker, the producer's linger and the
consumer's fetch wait for both flows alike; the table compares (b) with (a).
``produce→sink`` (output CreateTime minus send time, ms resolution) is printed
per run too. Outputs the reader never matched are looked up again after the drain by
reading the whole output topic from its start: with 2 processes, two producers append to
each output partition at once, and Tansu then (rarely: 40-110 of 200,000, in one round) hands
a live consumer a partition's later batch before an earlier one, so the consumer moves past
offsets it never received; the run prints how many unmatched outputs the topic does hold
(they were written, not lost) and the table counts only those absent from it.
alertflow's in-job latency (source read → handed to the sink) comes
from the ``--stats-file`` histograms: the last dump before the measured part is
subtracted from the first dump after the drain (the files are rewritten once a
second, so up to a second of the settle period is included).

Every figure is the median of R repetitions. The targets printed beside the
figures are issue 15's: (b) ≥ 60% of (a)'s throughput; at the offered load, (b)'s
p99 within 20 ms of (a)'s and in-job p99 ≤ 25 ms, in every repetition (the worst
one is shown beside the median).
"""

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from alertflow.schemas.config import OUTPUT_STREAMS
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from bench.broker import TansuBroker, free_port
from bench.report import command_line, machine, record, revision

REPO = Path(__file__).resolve().parent.parent
BASE_S = 1_767_225_600  # 2026-01-01T00:00:00Z: event time of round 0
METRIC = "bench_metric"

# librdkafka's default linger. With 1 ms, Tansu's in-memory log (one batch per produce
# request) gets slower as it grows: its own produce→consume p50 went 4 → 19 ms in 8 s.
LOAD_LINGER_MS = 5

TARGET_RATIO = 0.6
TARGET_P99_DIFF_MS = 20.0
TARGET_INJOB_P99_MS = 25.0


# --------------------------------------------------------------------------- the input


def instance_of(series: int) -> str:
    return f"host-{series:05d}:9100"


def rfc3339(round_: int) -> str:
    return dt.datetime.fromtimestamp(BASE_S + round_, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Samples:
    """prometheus-kafka-adapter messages for ``k`` series, identified by (round, series)."""

    def __init__(self, k: int, partitions: int, seed: int = 7) -> None:
        self.k = k
        self.partitions = partitions
        rng = random.Random(seed)
        self._noise = [rng.gauss(0.0, 1.0) for _ in range(4099)]
        self._levels = [100 + rng.randrange(900) for _ in range(k)]
        self._heads = [
            b'{"name":"' + METRIC.encode() + b'","labels":{"__name__":"' + METRIC.encode()
            + b'","instance":"' + instance_of(s).encode() + b'","job":"bench"},"timestamp":"'
            for s in range(k)
        ]
        self.keys = [instance_of(s).encode() for s in range(k)]
        self._ts: list[bytes] = []
        # Both spellings of a round's event time: the input's and alertflow's (ms precision).
        self.round_of_ts: dict[str, int] = {}
        self.series_of_instance = {instance_of(s): s for s in range(k)}

    def _ts_bytes(self, round_: int) -> bytes:
        while len(self._ts) <= round_:
            r = len(self._ts)
            text = rfc3339(r)
            self._ts.append(text.encode())
            self.round_of_ts[text] = r
            self.round_of_ts[text[:-1] + ".000Z"] = r
        return self._ts[round_]

    def value(self, round_: int, series: int) -> bytes:
        """One sample: a per-series level plus Gaussian noise, as the adapter's string value."""
        noise = self._noise[(series * 31 + round_) % len(self._noise)]
        return (
            self._heads[series] + self._ts_bytes(round_) + b'","value":"'
            + f"{self._levels[series] + noise:.3f}".encode() + b'"}'
        )

    def partition(self, series: int) -> int:
        return series % self.partitions

    def locate(self, doc: dict, ts_field: str) -> tuple[int, int] | None:
        """(round, series) of an output record, or None when it is not one of ours."""
        try:
            return (
                self.round_of_ts[doc[ts_field]],
                self.series_of_instance[doc["labels"]["instance"]],
            )
        except (KeyError, TypeError):
            return None


class DeliveryErrors:
    """Counts messages the broker never acknowledged (the producer gave up on them)."""

    def __init__(self) -> None:
        self.count = 0
        self.last = ""

    def __call__(self, err: object, msg: object) -> None:
        if err is not None:
            self.count += 1
            self.last = str(err)


def _producer(bootstrap: str, linger_ms: int, errors: DeliveryErrors) -> Producer:
    return Producer({
        "bootstrap.servers": bootstrap,
        "linger.ms": linger_ms,
        "queue.buffering.max.messages": 1_000_000,
        "on_delivery": errors,
    })


def _produce(producer: Producer, topic: str, value: bytes, key: bytes, partition: int) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, partition=partition)
            return
        except BufferError:
            producer.poll(0.05)


def prefill(bootstrap: str, topic: str, samples: Samples, n: int) -> None:
    """Produce ``n`` samples, round after round over all series, and wait for delivery."""
    errors = DeliveryErrors()
    producer = _producer(bootstrap, 20, errors)
    for i in range(n):
        round_, series = divmod(i, samples.k)
        _produce(producer, topic, samples.value(round_, series), samples.keys[series],
                 samples.partition(series))
        if i % 5000 == 0:
            producer.poll(0)
    if producer.flush(60) or errors.count:
        raise RuntimeError(f"pre-filling {topic} failed: {errors.count} not delivered "
                           f"({errors.last})")


def _consumer(bootstrap: str, eof: bool) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "bench-reader",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 10,
        "enable.partition.eof": eof,
    })


def _assign_all(consumer: Consumer, topic: str, partitions: int) -> None:
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])


def read_to_end(bootstrap: str, topic: str, partitions: int,
                stall_s: float = 10.0) -> Iterator[Message]:
    """Every message of ``topic``, from its start to its end.

    Gives up on a partition that makes no progress for ``stall_s`` (Tansu's log can
    get stuck when two producers append to one partition at once); callers compare
    what they read with what they expected.
    """
    consumer = _consumer(bootstrap, eof=True)
    _assign_all(consumer, topic, partitions)
    ended: set[int] = set()
    progress = time.monotonic()
    try:
        while len(ended) < partitions and time.monotonic() - progress < stall_s:
            for msg in consumer.consume(5000, 0.2):
                err = msg.error()
                if err is None:
                    yield msg
                    progress = time.monotonic()
                elif err.code() == KafkaError._PARTITION_EOF:
                    ended.add(msg.partition())
    finally:
        consumer.close()


def read_timestamps(bootstrap: str, topic: str, partitions: int,
                    stall_s: float = 10.0) -> list[int]:
    """Kafka timestamps (ms) of every message of ``topic``, read to its end."""
    return [msg.timestamp()[1] for msg in read_to_end(bootstrap, topic, partitions, stall_s)]


def read_located(bootstrap: str, topic: str, partitions: int, samples: "Samples",
                 ts_field: str, stall_s: float = 10.0) -> dict[tuple[int, int], tuple[int, int]]:
    """Every record of ``topic`` read to its end: (round, series) -> (partition, offset)."""
    found: dict[tuple[int, int], tuple[int, int]] = {}
    for msg in read_to_end(bootstrap, topic, partitions, stall_s):
        where = samples.locate(orjson.loads(msg.value()), ts_field)
        if where is not None:
            found.setdefault(where, (msg.partition(), msg.offset()))
    return found


def message_count(bootstrap: str, topic: str, partitions: int) -> int:
    """Messages in ``topic`` by its high watermarks (Tansu's lag slightly: approximate)."""
    consumer = _consumer(bootstrap, eof=False)
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


# --------------------------------------------------------------------------- the flows


def passthrough_flow(bootstrap: str, in_topic: str, out_topic: str, stop_at_end: bool,
                     fetch_wait_max_ms: int, batch_size: int):
    """Kafka in → Kafka out, nothing else, with alertflow's consumer settings."""
    import bytewax.operators as op
    from alertflow.dataflows.shutdown import StoppableSource
    from alertflow.schemas.config import KafkaClient
    from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
    from bytewax.connectors.kafka import KafkaSourceMessage as SourceMessage
    from bytewax.dataflow import Dataflow

    kafka = KafkaClient(fetch_wait_max_ms=fetch_wait_max_ms, batch_size=batch_size,
                        stop_at_end=stop_at_end)

    def to_sink(msg):
        if isinstance(msg, SourceMessage):
            return KafkaSinkMessage(key=msg.key, value=msg.value)
        return None  # a consumer error: dropped

    flow = Dataflow("passthrough")
    # Wrapped like alertflow's sources, so SIGTERM drains and stops it the same way.
    raw = op.input("in", flow, StoppableSource(KafkaSource(
        # Several comma-separated topics: bench/throughput_mix.py's four input streams.
        brokers=[bootstrap], topics=in_topic.split(","), tail=not kafka.stop_at_end,
        starting_offset=OFFSET_BEGINNING, add_config=kafka.consumer_config(),
        batch_size=kafka.batch_size, raise_on_errors=False,
    )))
    op.output("out", op.filter_map("to_sink", raw, to_sink),
              KafkaSink(brokers=[bootstrap], topic=out_topic, add_config=kafka.client_config()))
    return flow


def passthrough_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.throughput passthrough")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--input-topic", required=True)
    parser.add_argument("--output-topic", required=True)
    parser.add_argument("--stop-at-end", action="store_true")
    parser.add_argument("--fetch-wait-max-ms", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("-i", "--process-id", type=int)
    parser.add_argument("-a", "--addresses")
    args = parser.parse_args(argv)

    from alertflow.dataflows.runner import run
    from alertflow.schemas.config import RuntimeConfig

    flow = passthrough_flow(args.bootstrap, args.input_topic, args.output_topic,
                            args.stop_at_end, args.fetch_wait_max_ms, args.batch_size)
    run(flow, RuntimeConfig(
        process_id=args.process_id,
        addresses=args.addresses.split(";") if args.addresses else [],
    ))
    return 0


def _alertflow_exe() -> list[str]:
    script = Path(sys.executable).with_name("alertflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "alertflow.dataflows.cli"]


@dataclass
class FlowSpec:
    """One flow (``passthrough`` or ``alertflow``) at one process count, on one topic."""

    kind: str
    procs: int
    bootstrap: str
    in_topic: str
    prefix: str  # output topics: <prefix><stream> for alertflow, <prefix>passthrough
    stop_at_end: bool
    stats_file: Path | None = None

    @property
    def out_topic(self) -> str:
        return f"{self.prefix}{'scores' if self.is_alertflow else 'passthrough'}"

    @property
    def is_alertflow(self) -> bool:
        return self.kind.startswith("alertflow")

    @property
    def ts_field(self) -> str:
        return "ts" if self.is_alertflow else "timestamp"

    def out_topics(self) -> list[str]:
        if self.is_alertflow:
            return [f"{self.prefix}{s}" for s in OUTPUT_STREAMS]
        return [self.out_topic]

    def commands(self) -> list[list[str]]:
        if self.is_alertflow:
            base = [
                *_alertflow_exe(), "run",
                "--input", f"metrics=kafka://{self.bootstrap}/{self.in_topic}",
                "--output", f"kafka://{self.bootstrap}",
                "--set", "scoring.emit_scores=true",
                "--set", f"kafka.stop_at_end={str(self.stop_at_end).lower()}",
                "--set", "kafka.fetch_wait_max_ms=10",
                "--set", f"topic_prefix={self.prefix}",
            ]
            for setting in ALERTFLOW_SETTINGS:
                base += ["--set", setting]
            if self.stats_file is not None:
                base += ["--stats-file", str(self.stats_file)]
            if self.kind == FORECAST_KIND:
                base += ["--config", str(FORECAST_CONFIG)]
        else:
            base = [
                sys.executable, "-m", "bench.throughput", "passthrough",
                "--bootstrap", self.bootstrap, "--input-topic", self.in_topic,
                "--output-topic", self.out_topic, "--fetch-wait-max-ms", "10",
            ]
            if self.stop_at_end:
                base.append("--stop-at-end")
        if self.procs == 1:
            return [base]
        addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(self.procs))
        return [[*base, "-i", str(i), "-a", addresses] for i in range(self.procs)]


class Children:
    """Every process the bench started; all of them are stopped on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, cmd: list[str], name: str) -> subprocess.Popen:
        log = self.log_dir / f"{name}.log"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((proc, log))
        return proc

    def stop(self, procs: list[subprocess.Popen], timeout_s: float = 5.0) -> None:
        """SIGTERM (the flows drain and exit), then SIGKILL after ``timeout_s``."""
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        self.stop([p for p, _ in self.procs], timeout_s=5.0)

    def log_tail(self, proc: subprocess.Popen, lines: int = 15) -> str:
        for p, log in self.procs:
            if p is proc:
                return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return ""


# --------------------------------------------------------------------------- measurements


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class CpuMeter:
    """CPU use of the broker, the flow's processes and the bench between two marks."""

    broker_pid: int
    flow_pids: list[int]
    marks: list[tuple[float, float, float, float]] = field(default_factory=list)

    def mark(self) -> None:
        own = os.times()
        self.marks.append((time.monotonic(), _cpu_s(self.broker_pid),
                           sum(_cpu_s(p) for p in self.flow_pids), own.user + own.system))

    def shares(self) -> tuple[float, float, float]:
        """(broker, flow, bench) CPU as fractions of one core over the marked span."""
        (t0, *a), (t1, *b) = self.marks[0], self.marks[-1]
        span = t1 - t0
        return tuple((y - x) / span for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


@dataclass
class ThroughputResult:
    outputs: int
    span_s: float
    wall_s: float
    n: int
    anomalies: int = 0
    dlq: int = 0
    cpu_s: float = 0.0  # user + system CPU of the flow's processes, start-up included

    @property
    def cpu_us_per_sample(self) -> float:
        return self.cpu_s / self.n * 1e6

    @property
    def rate(self) -> float:
        return self.outputs / self.span_s if self.span_s > 0 else math.nan

    @property
    def wall_rate(self) -> float:
        return self.n / self.wall_s


def measure_throughput(spec: FlowSpec, n: int, partitions: int, children: Children,
                       broker: TansuBroker, tag: str, timeout_s: float) -> ThroughputResult:
    broker.create_topics(*spec.out_topics(), partitions=partitions)
    # Only the flow's processes end (and are reaped) in between: the broker lives on.
    cpu_before = _children_cpu_s()
    started = time.monotonic()
    procs = [children.start(cmd, f"{tag}-p{i}") for i, cmd in enumerate(spec.commands())]
    try:
        for proc in procs:
            proc.wait(max(1.0, timeout_s - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        children.stop(procs)
        raise RuntimeError(f"{tag}: did not finish within {timeout_s:.0f}s") from None
    wall = time.monotonic() - started
    for proc in procs:
        if proc.returncode != 0:
            raise RuntimeError(f"{tag}: exit code {proc.returncode}\n{children.log_tail(proc)}")
    stamps = read_timestamps(spec.bootstrap, spec.out_topic, partitions)
    if not stamps:
        raise RuntimeError(f"{tag}: no output on {spec.out_topic}")
    result = ThroughputResult(len(stamps), (max(stamps) - min(stamps)) / 1000, wall, n,
                              cpu_s=_children_cpu_s() - cpu_before)
    if spec.is_alertflow:
        result.anomalies = message_count(spec.bootstrap, f"{spec.prefix}anomalies", partitions)
        result.dlq = message_count(spec.bootstrap, f"{spec.prefix}dlq", partitions)
    return result


@dataclass
class LatencyResult:
    sent: int
    matched: int
    offered_rate: float
    e2e_ms: list[float] = field(default_factory=list)
    sink_ms: list[float] = field(default_factory=list)
    injob_p50: float = math.nan
    injob_p99: float = math.nan
    delivery_errors: int = 0
    consumer_errors: int = 0
    dlq: int = 0
    missing_sample: list[tuple[int, int]] = field(default_factory=list)  # (round, series)
    # Of the unmatched, those the topic holds when read again from the start after the
    # drain, and how many of those lie below the offset the reader had reached (skipped).
    missing_in_topic: int = 0
    missing_skipped: int = 0
    offsets_unread: int = 0  # offsets below the highest one read that the reader never got
    cpu: tuple[float, float, float] = (math.nan, math.nan, math.nan)  # broker, flow, bench

    def pct(self, q: float, sink: bool = False) -> float:
        values = self.sink_ms if sink else self.e2e_ms
        if not values:
            return math.nan
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class OutputReader(threading.Thread):
    """Reads the output topic, matches each record to its input and keeps the latencies."""

    def __init__(self, spec: FlowSpec, samples: Samples, partitions: int) -> None:
        super().__init__(daemon=True)
        self.spec = spec
        self.samples = samples
        self.consumer = _consumer(spec.bootstrap, eof=False)
        _assign_all(self.consumer, spec.out_topic, partitions)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.round_counts: dict[int, int] = {}
        self.first_measured_round: int | None = None  # set before the measured load starts
        self.send_ns: list[int] = []  # by (round - first_measured_round) * k + series
        self.e2e_ns: list[int] = []
        self.sink_ms: list[float] = []
        self.seen: set[int] = set()
        self.indices: list[int] = []
        self.error: BaseException | None = None
        self.consumer_errors = 0
        self.reached: dict[int, int] = {}  # partition -> highest offset read
        self.read: dict[int, int] = {}  # partition -> messages read

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def _loop(self) -> None:
        k = self.samples.k
        ts_field = self.spec.ts_field
        while not self.stop_event.is_set():
            # consume(n, timeout) waits for n messages or the timeout, which would add up
            # to the timeout to every latency: wait for one message, then take what is there.
            first_msg = self.consumer.poll(0.05)
            if first_msg is None:
                continue
            now = time.time_ns()
            batch = [first_msg, *self.consumer.consume(999, 0)]
            for msg in batch:
                if msg.error() is not None:
                    self.consumer_errors += 1
                    continue
                part = msg.partition()
                self.reached[part] = max(msg.offset(), self.reached.get(part, -1))
                self.read[part] = self.read.get(part, 0) + 1
                where = self.samples.locate(orjson.loads(msg.value()), ts_field)
                if where is None:
                    continue
                round_, series = where
                first = self.first_measured_round
                if first is None or round_ < first:
                    with self.lock:
                        self.round_counts[round_] = self.round_counts.get(round_, 0) + 1
                    continue
                index = (round_ - first) * k + series
                if index >= len(self.send_ns) or index in self.seen:
                    continue
                sent = self.send_ns[index]
                if sent == 0:
                    continue
                self.seen.add(index)
                self.indices.append(index)
                self.e2e_ns.append(now - sent)
                self.sink_ms.append(msg.timestamp()[1] - sent / 1e6)

    def complete_round(self) -> int | None:
        with self.lock:
            done = [r for r, c in self.round_counts.items() if c >= self.samples.k]
        return max(done) if done else None

    def close(self) -> None:
        self.stop_event.set()
        self.join(10)
        self.consumer.close()


def _read_stats(stats_file: Path) -> tuple[list[int] | None, float]:
    """The processes' in-job latency counts summed, and the oldest file's mtime."""
    total: list[int] | None = None
    oldest = math.inf
    for path in stats_file.parent.glob(f"{stats_file.name}.*.json"):
        try:
            mtime = path.stat().st_mtime
            counts = json.loads(path.read_bytes())["latency_counts"]
        except (OSError, ValueError, KeyError):
            continue
        oldest = min(oldest, mtime)
        total = counts if total is None else [a + b for a, b in zip(total, counts, strict=True)]
    return total, oldest


def _warm_up(spec: FlowSpec, samples: Samples, producer: Producer, reader: "OutputReader",
             procs: list[subprocess.Popen], children: Children, tag: str) -> int:
    """Send a full round every 0.25 s until one came out whole; the next round's number."""
    round_ = 0
    deadline = time.monotonic() + 120
    while reader.complete_round() is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{tag}: no complete output round within 120 s")
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{tag}: exited with {proc.returncode}\n"
                                   f"{children.log_tail(proc)}")
        for series in range(samples.k):
            _produce(producer, spec.in_topic, samples.value(round_, series),
                     samples.keys[series], samples.partition(series))
        producer.flush(10)
        round_ += 1
        time.sleep(0.25)
    return round_


def _drain(reader: "OutputReader", total: int, quiet_s: float = 5.0, max_s: float = 30.0) -> None:
    """Wait until every output came, or none came for ``quiet_s``."""
    deadline = time.monotonic() + max_s
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        got = len(reader.e2e_ns)
        if got >= total:
            return
        if got != last:
            last, quiet_since = got, time.monotonic()
        elif time.monotonic() - quiet_since > quiet_s:
            return
        time.sleep(0.02)


def measure_latency(spec: FlowSpec, samples: Samples, partitions: int, rate: float,
                    settle_s: float, load_s: float, children: Children, broker: TansuBroker,
                    tag: str) -> LatencyResult:
    broker.create_topics(spec.in_topic, *spec.out_topics(), partitions=partitions)
    reader = OutputReader(spec, samples, partitions)
    reader.start()
    delivery = DeliveryErrors()
    producer = _producer(spec.bootstrap, LOAD_LINGER_MS, delivery)
    k = samples.k
    total = int(rate * (settle_s + load_s))
    settle_count = int(rate * settle_s)
    injob_before: list[int] | None = None
    procs = [children.start(cmd, f"{tag}-p{i}") for i, cmd in enumerate(spec.commands())]
    try:
        meter = CpuMeter(broker.process.pid if broker.process else 0, [p.pid for p in procs])
        first_round = _warm_up(spec, samples, producer, reader, procs, children, tag)
        send_ns = reader.send_ns = [0] * total
        reader.first_measured_round = first_round
        # The paced load: message i is due at start + i / rate.
        start = time.perf_counter()
        i = 0
        while i < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            if not meter.marks and due > settle_count:
                meter.mark()
                if spec.stats_file is not None:
                    # The last dump before the measured part (rewritten once a second).
                    injob_before = _read_stats(spec.stats_file)[0]
            while i < due:
                r, series = divmod(i, k)
                value = samples.value(first_round + r, series)
                send_ns[i] = time.time_ns()
                _produce(producer, spec.in_topic, value, samples.keys[series],
                         samples.partition(series))
                i += 1
            producer.poll(0)
            time.sleep(0.0005)
        elapsed = time.perf_counter() - start
        meter.mark()
        producer.flush(10)
        _drain(reader, total)
        result = LatencyResult(sent=total - settle_count, matched=0, offered_rate=total / elapsed,
                               delivery_errors=delivery.count, cpu=meter.shares())
        if spec.stats_file is not None:
            drained_at = time.time()
            after, oldest = _read_stats(spec.stats_file)
            while oldest <= drained_at and time.time() < drained_at + 3:
                time.sleep(0.05)
                after, oldest = _read_stats(spec.stats_file)
            if after is not None:
                from alertflow.operators.latency import LatencyHistogram

                before = injob_before or [0] * len(after)
                counts = [a - b for a, b in zip(after, before, strict=True)]
                hist = LatencyHistogram(counts=counts, count=sum(counts))
                result.injob_p50, result.injob_p99 = hist.percentile(50), hist.percentile(99)
            result.dlq = message_count(spec.bootstrap, f"{spec.prefix}dlq", partitions)
    finally:
        reader.close()
        children.stop(procs)
    if reader.error is not None:
        raise RuntimeError(f"{tag}: output reader failed: {reader.error!r}")
    result.consumer_errors = reader.consumer_errors
    # Keep only the samples sent after the settle period.
    for index, e2e, sink in zip(reader.indices, reader.e2e_ns, reader.sink_ms, strict=True):
        if index >= settle_count:
            result.e2e_ms.append(e2e / 1e6)
            result.sink_ms.append(sink)
    result.matched = len(result.e2e_ms)
    missing = sorted(set(range(settle_count, total)) - reader.seen)
    result.missing_sample = [divmod(m, k) for m in missing[:5]]
    if missing:
        _recount(result, missing, spec, samples, partitions, reader)
    return result


def _recount(result: LatencyResult, missing: list[int], spec: FlowSpec, samples: Samples,
             partitions: int, reader: "OutputReader") -> None:
    """Were the unmatched outputs written at all? Read the topic again from the start."""
    first = reader.first_measured_round or 0
    result.offsets_unread = sum(
        reached + 1 - reader.read.get(part, 0) for part, reached in reader.reached.items())
    found = read_located(spec.bootstrap, spec.out_topic, partitions, samples, spec.ts_field)
    for m in missing:
        round_, series = divmod(m, samples.k)
        where = found.get((first + round_, series))
        if where is not None:
            result.missing_in_topic += 1
            result.missing_skipped += where[1] <= reader.reached.get(where[0], -1)


# --------------------------------------------------------------------------- the run


@dataclass
class Settings:
    n: int
    k: int
    partitions: int
    rate: float
    settle_s: float
    load_s: float
    repeats: int
    procs: list[int]
    phases: list[str]
    kinds: tuple[str, ...] = ("passthrough", "alertflow")


KINDS = ("passthrough", "alertflow")
# --with-forecast: alertflow again with a threshold on every series (issue 14). The bench's
# samples are 1 s apart, so the cadences are shrunk in proportion to keep production's ratio
# of samples to work: a forecast every 30 samples (15 min at a 30 s scrape), 3 per bucket.
FORECAST_KIND = "alertflow+forecast"
FORECAST_CONFIG = Path(__file__).with_name("throughput_forecast.yaml")

@contextlib.contextmanager
def fresh_broker() -> Iterator[TansuBroker]:
    """A new broker per measurement: Tansu's in-memory log only grows, and it slows with size."""
    broker = TansuBroker()
    try:
        yield broker.start()
    finally:
        broker.stop()


def _report_throughput(tag: str, kind: str, res: ThroughputResult, began: float) -> None:
    extra = f", anomalies {res.anomalies:,}, dlq {res.dlq:,}" if kind == "alertflow" else ""
    if res.outputs != res.n:
        extra += f"; EXPECTED {res.n:,} outputs"
    print(f"  {tag}: {res.outputs:,} outputs in {res.span_s:.2f} s = {res.rate:,.0f}/s; "
          f"wall {res.wall_s:.2f} s = {res.wall_rate:,.0f}/s; CPU {res.cpu_s:.1f} s = "
          f"{res.cpu_us_per_sample:.1f} µs/sample{extra} [{_since(began)}]", flush=True)


def _report_latency(tag: str, kind: str, res: LatencyResult, began: float,
                    children: Children) -> None:
    extra = (f"; in-job p50 {res.injob_p50:.1f} p99 {res.injob_p99:.1f} ms"
             if kind == "alertflow" else "")
    if res.matched < res.sent:
        extra += (f"; UNMATCHED e.g. (round after warm-up, series) {res.missing_sample}, "
                  f"in the topic when read again {res.missing_in_topic:,} (below the "
                  f"offset the reader had reached {res.missing_skipped:,}; offsets below it "
                  f"it never received {res.offsets_unread:,}), "
                  f"delivery errors {res.delivery_errors}, consumer errors "
                  f"{res.consumer_errors}, dlq {res.dlq}")
    print(f"  {tag}: offered {res.offered_rate:,.0f}/s, matched {res.matched:,}/{res.sent:,}; "
          f"produce→consume p50 {res.pct(50):.1f} p99 {res.pct(99):.1f} ms, produce→sink p99 "
          f"{res.pct(99, sink=True):.0f} ms{extra}; CPU broker/flow/bench "
          f"{'/'.join(f'{c:.0%}' for c in res.cpu)} [{_since(began)}]", flush=True)
    if res.matched < res.sent:
        for log in sorted(children.log_dir.glob(f"{tag}-p*.log")):
            print(f"    {log.name}: " + "\n    ".join(
                log.read_text(errors="replace").splitlines()[-8:]), flush=True)


def run_all(cfg: Settings) -> tuple[dict, dict]:
    """Run every measurement; results keyed by (kind, procs), one entry per repetition.

    Passthrough and alertflow alternate within each repetition, so slow drifts of the
    (shared) machine hit both alike.
    """
    tput: dict[tuple[str, int], list[ThroughputResult]] = {}
    lat: dict[tuple[str, int], list[LatencyResult]] = {}
    samples = Samples(cfg.k, cfg.partitions)
    with tempfile.TemporaryDirectory(prefix="alertflow-bench-") as tmp:
        children = Children(Path(tmp))
        try:
            for rep in range(cfg.repeats) if "throughput" in cfg.phases else ():
                for procs in cfg.procs:
                    for kind in cfg.kinds:
                        tag = f"tp-{kind}-{procs}p-r{rep}"
                        began = time.monotonic()
                        with fresh_broker() as broker:
                            in_topic = f"{tag}.in"
                            broker.create_topics(in_topic, partitions=cfg.partitions)
                            prefill(broker.bootstrap, in_topic, samples, cfg.n)
                            # '+' is no Kafka topic character: the audit topic, created
                            # on first write, was refused for alertflow+forecast's prefix.
                            prefix = f"{tag.replace('+', '_')}."
                            spec = FlowSpec(kind, procs, broker.bootstrap, in_topic, prefix,
                                            stop_at_end=True)
                            res = measure_throughput(spec, cfg.n, cfg.partitions, children,
                                                     broker, tag, timeout_s=600)
                        tput.setdefault((kind, procs), []).append(res)
                        _report_throughput(tag, kind, res, began)
            for rep in range(cfg.repeats) if "latency" in cfg.phases else ():
                for procs in cfg.procs:
                    for kind in KINDS:
                        tag = f"lat-{kind}-{procs}p-r{rep}"
                        began = time.monotonic()
                        stats = Path(tmp) / f"{tag}.stats" if kind == "alertflow" else None
                        with fresh_broker() as broker:
                            spec = FlowSpec(kind, procs, broker.bootstrap, f"{tag}.in",
                                            f"{tag}.", stop_at_end=False, stats_file=stats)
                            res = measure_latency(spec, samples, cfg.partitions, cfg.rate,
                                                  cfg.settle_s, cfg.load_s, children, broker, tag)
                        lat.setdefault((kind, procs), []).append(res)
                        _report_latency(tag, kind, res, began, children)
        finally:
            children.stop_all()
    return tput, lat


def _since(began: float) -> str:
    return f"{time.monotonic() - began:.1f} s"


def _median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def _fmt(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def table(cfg: Settings, tput: dict, lat: dict) -> str:
    """The markdown table of medians, (b) against (a), with the targets."""
    rows = [
        "| measurement | procs | (a) passthrough | (b) alertflow | (b) vs (a) | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for procs in cfg.procs:
        a_runs, b_runs = tput.get(("passthrough", procs)), tput.get(("alertflow", procs))
        if a_runs and b_runs:
            a = _median([r.rate for r in a_runs])
            b = _median([r.rate for r in b_runs])
            ratio = b / a if a else math.nan
            rows.append(
                f"| sustained throughput, samples/s (first→last output) | {procs} | {_fmt(a)} | "
                f"{_fmt(b)} | {ratio:.0%} | (b) ≥ {TARGET_RATIO:.0%} of (a) | "
                f"{_met(ratio >= TARGET_RATIO)} |"
            )
            aw = _median([r.wall_rate for r in a_runs])
            bw = _median([r.wall_rate for r in b_runs])
            a_wall = _median([r.wall_s for r in a_runs])
            b_wall = _median([r.wall_s for r in b_runs])
            rows.append(
                f"| N / whole-process wall time, samples/s (wall s) | {procs} | "
                f"{_fmt(aw)} ({a_wall:.1f} s) | {_fmt(bw)} ({b_wall:.1f} s) | "
                f"{bw / aw:.0%} | — | |"
            )
            a_cpu = _median([r.cpu_us_per_sample for r in a_runs])
            b_cpu = _median([r.cpu_us_per_sample for r in b_runs])
            rows.append(
                f"| CPU per sample, µs (all processes, start-up included) | {procs} | "
                f"{a_cpu:.1f} | {b_cpu:.1f} | {b_cpu / a_cpu:.1f}x | — | |"
            )
    for procs in cfg.procs:
        a_runs, b_runs = lat.get(("passthrough", procs)), lat.get(("alertflow", procs))
        if not (a_runs and b_runs):
            continue
        load = f"@ {cfg.rate:,.0f}/s"
        for q in (50, 99):
            a = _median([r.pct(q) for r in a_runs])
            b = _median([r.pct(q) for r in b_runs])
            target, met = "—", ""
            if q == 99:
                # Every repetition must meet it: (b) against the (a) run beside it.
                worst = max(rb.pct(99) - ra.pct(99) for ra, rb in zip(a_runs, b_runs, strict=True))
                target = (f"(b) ≤ (a) + {TARGET_P99_DIFF_MS:.0f} ms in every repeat "
                          f"(worst {worst:+.1f} ms)")
                met = _met(worst <= TARGET_P99_DIFF_MS)
            rows.append(
                f"| produce→consume p{q}, ms {load} | {procs} | {_fmt(a, 1)} | {_fmt(b, 1)} | "
                f"{b - a:+.1f} ms | {target} | {met} |"
            )
        p50 = _median([r.injob_p50 for r in b_runs])
        p99 = _median([r.injob_p99 for r in b_runs])
        worst_p99 = max((r.injob_p99 for r in b_runs), default=math.nan)
        rows.append(
            f"| alertflow in-job p50 / p99, ms {load} | {procs} | — | {_fmt(p50, 1)} / "
            f"{_fmt(p99, 1)} | — | p99 ≤ {TARGET_INJOB_P99_MS:.0f} ms in every repeat "
            f"(worst {_fmt(worst_p99, 1)}) | "
            f"{_met(None if math.isnan(worst_p99) else worst_p99 <= TARGET_INJOB_P99_MS)} |"
        )
        a_cpu = [_median([r.cpu[i] for r in a_runs]) for i in range(3)]
        b_cpu = [_median([r.cpu[i] for r in b_runs]) for i in range(3)]
        rows.append(
            f"| CPU during the load, % of a core: broker / flow / bench | {procs} | "
            f"{' / '.join(f'{c:.0%}' for c in a_cpu)} | {' / '.join(f'{c:.0%}' for c in b_cpu)} "
            f"| — | — | |"
        )
        a_off = _median([r.offered_rate for r in a_runs])
        b_off = _median([r.offered_rate for r in b_runs])
        a_miss = max(r.sent - r.matched - r.missing_in_topic for r in a_runs)
        b_miss = max(r.sent - r.matched - r.missing_in_topic for r in b_runs)
        rows.append(
            f"| achieved offered load, samples/s (most outputs absent from the topic in a run) "
            f"| {procs} | "
            f"{_fmt(a_off)} ({a_miss:,}) | {_fmt(b_off)} ({b_miss:,}) | — | — | |"
        )
    return "\n".join(rows)


def forecast_rows(cfg: "Settings", tput: dict) -> str:
    """With --with-forecast: alertflow with forecasting against alertflow, same run."""
    rows = []
    for procs in cfg.procs:
        b_runs, f_runs = tput.get(("alertflow", procs)), tput.get((FORECAST_KIND, procs))
        if not (b_runs and f_runs):
            continue
        b = _median([r.cpu_us_per_sample for r in b_runs])
        f = _median([r.cpu_us_per_sample for r in f_runs])
        bw, fw = _median([r.wall_rate for r in b_runs]), _median([r.wall_rate for r in f_runs])
        rows.append(
            f"\n| forecasting on every series: CPU per sample, µs | {procs} | {b:.1f} | "
            f"{f:.1f} | {f / b - 1:+.0%} | ≤ +25% | {_met(f / b <= 1.25)} |"
        )
        rows.append(
            f"\n| forecasting on every series: N / wall time, samples/s | {procs} | {_fmt(bw)} | "
            f"{_fmt(fw)} | {fw / bw - 1:+.0%} | — | |"
        )
    return "".join(rows)


SECTION = "## Kafka throughput and latency: alertflow vs passthrough"


ALERTFLOW_SETTINGS: list[str] = []  # --alertflow-set: extra settings of every alertflow run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["passthrough"]:
        return passthrough_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", "-n", type=int, default=300_000,
                        help="pre-filled samples for the throughput runs")
    parser.add_argument("--series", "-k", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20_000, help="offered samples/s")
    parser.add_argument("--load-s", type=float, default=10.0, help="measured load duration")
    parser.add_argument("--settle-s", type=float, default=2.0,
                        help="load sent before the measured part (not counted)")
    parser.add_argument("--repeats", "-r", type=int, default=3)
    parser.add_argument("--procs", help="process counts, e.g. 1,2 (default; --quick: 1)")
    parser.add_argument("--phases", default="throughput,latency")
    parser.add_argument("--quick", action="store_true",
                        help="the guard before a hot-path change: 1 process, N=100k over K=250, "
                        "4 s of load (1 s settle), R=3; prints the ratio against the targets")
    parser.add_argument("--record", action="store_true", help="append the table to BENCHMARKS.md")
    parser.add_argument("--with-forecast", action="store_true",
                        help="also alertflow with a breach threshold on every series")
    parser.add_argument("--alertflow-set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra setting for every alertflow run (repeatable), to try a "
                        "setting against the passthrough, e.g. kafka.config.fetch.min.bytes=65536")
    args = parser.parse_args(argv)
    ALERTFLOW_SETTINGS[:] = args.alertflow_set
    if args.quick:
        # 400 rounds of 250 series: most samples are scored by warm detectors, as in the full run.
        args.samples, args.series, args.load_s, args.settle_s, args.repeats = (
            100_000, 250, 4.0, 1.0, 3)
    args.procs = args.procs or ("1" if args.quick else "1,2")
    cfg = Settings(
        n=args.samples, k=args.series, partitions=args.partitions, rate=args.rate,
        settle_s=args.settle_s, load_s=args.load_s, repeats=args.repeats,
        procs=[int(p) for p in args.procs.split(",")],
        phases=[p.strip() for p in args.phases.split(",")],
        kinds=(*KINDS, FORECAST_KIND) if args.with_forecast else KINDS,
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        tput, lat = run_all(cfg)
    finally:
        signal.signal(signal.SIGTERM, previous)
    md = table(cfg, tput, lat) + forecast_rows(cfg, tput)
    settings = (f"N={cfg.n:,} samples over K={cfg.k:,} series, {cfg.partitions} partitions; "
                f"offered load {cfg.rate:,.0f}/s for {cfg.load_s:g} s after {cfg.settle_s:g} s "
                f"of settling; medians of R={cfg.repeats}")
    print()
    print(settings)
    print()
    print(md)
    if args.quick:
        print("\n--quick: 1 process, N=100k over K=250 series, medians of 3. Before changing "
              "the hot path, run it on main and on your branch at the same time of day: the "
              "ratio and the targets "
              "above are what a change must keep; the full run decides.")
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.record:
        today = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        record(
            SECTION,
            f"\n### {today}\n\n"
            f"Command: `{command_line('-m', ['bench.throughput', *argv])}`  \n"
            f"Machine: {machine('bytewax', 'confluent-kafka')}, "
            "broker Tansu (memory storage, loopback)  \n"
            f"Revision: {revision()}  \n"
            f"Settings: {settings}.\n\n{md}\n"
        )
        print("appended to BENCHMARKS.md")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
