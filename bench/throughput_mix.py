"""A realistic mix through the whole flow on Kafka: ``alertflow simulate`` at scale.

Run from the repository root::

    .venv/bin/python -m bench.throughput_mix                 # 200 services, 1 h, R=3, 1 and 2 procs
    .venv/bin/python -m bench.throughput_mix --services 100 --hours 0.5 -r 1 --procs 1

``alertflow simulate --services S --hours H --clusters 2`` writes metrics (about ten
series per service, one sample each 30 s), logs, traces and alerts in the proportions
of its estate (200 services, 1 h: ~2,000 series, 240k samples, ~15k log lines, a few
hundred traces and alert payloads). Each stream's lines go to its own topic of a fresh
Tansu broker (2 partitions; a metric series, a service's logs always to one partition).
Then, in the same run and on the same topics, with ``kafka.stop_at_end``:

(a) the passthrough of bench/throughput.py reading all four topics into one;
(b) ``alertflow run`` with the four inputs and its default settings plus
    ``scoring.emit_scores=true`` (so output is dense enough to time).

Events/s is the number of input messages over the span between the first and the
last output message's Kafka timestamp across every output topic (start-up excluded,
as in bench/throughput.py). CPU per event is given twice: over the whole run (start-up
included, paid once per process) and over that span only (the flow's processes read
from /proc every 50 ms; the figure the rate depends on when the cores are shared).
Medians of R repetitions, passthrough and alertflow alternating. Latency at a fixed offered load is
bench/throughput.py's (metrics only); this bench has no latency phase yet.
"""

import argparse
import bisect
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson
from alertflow.schemas.config import OUTPUT_STREAMS
from confluent_kafka import Producer

from bench.broker import free_port
from bench.throughput import (
    REPO,
    Children,
    ThroughputResult,
    _alertflow_exe,
    _children_cpu_s,
    _cpu_s,
    fresh_broker,
    read_timestamps,
)

STREAMS = ("metrics", "logs", "traces", "alerts")
PARTITIONS = 2
TARGET_RATE = 100_000.0
TARGET_RATIO = 0.5


def simulate(out: Path, services: int, hours: float, seed: int) -> dict[str, list[bytes]]:
    """The simulator's four files, as lines per stream."""
    cmd = [*_alertflow_exe(), "simulate", "--out", str(out), "--services", str(services),
           "--hours", str(hours), "--clusters", "2", "--incidents", "6", "--seed", str(seed)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return {s: [ln for ln in (out / f"{s}.jsonl").read_bytes().splitlines() if ln.strip()]
            for s in STREAMS}


def _partition_key(stream: str, line: bytes) -> bytes:
    """The key producers use: a series (metrics), a service (logs), a trace, an alert group.

    Traces go by trace id as the OpenTelemetry Collector's Kafka exporter does with
    ``partition_traces_by_id``, alerts by Alertmanager's ``groupKey``; both had no key
    before, so every trace and alert landed on one partition, i.e. one process.
    """
    doc = orjson.loads(line)
    if not isinstance(doc, dict):
        return b""
    if stream == "metrics":
        return orjson.dumps([doc.get("name"), doc.get("labels")], option=orjson.OPT_SORT_KEYS)
    if stream == "traces":
        return _first_trace_id(doc).encode()
    if stream == "alerts":
        return str(doc.get("groupKey", ""))[:256].encode()
    return str(doc.get("service", ""))[:64].encode()


def _first_trace_id(doc: dict) -> str:
    for resource in doc.get("resourceSpans") or ():
        for scope in resource.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                return str(span.get("traceId", ""))
    return ""


def fill(bootstrap: str, prefix: str, lines: dict[str, list[bytes]]) -> None:
    """Each stream's lines into ``<prefix><stream>``, in file (time) order per partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "queue.buffering.max.messages": 1_000_000})
    for stream, values in lines.items():
        for i, value in enumerate(values):
            key = _partition_key(stream, value)
            producer.produce(f"{prefix}{stream}", value=value, key=key,
                             partition=zlib.crc32(key) % PARTITIONS)
            if i % 5000 == 0:
                producer.poll(0)
    if producer.flush(60):
        raise RuntimeError(f"pre-filling {prefix}* failed")


ALERTFLOW_SETTINGS: list[str] = []  # --alertflow-set: extra settings of every alertflow run


def commands(kind: str, procs: int, bootstrap: str, prefix: str) -> list[list[str]]:
    """The flow's processes, each reading every input topic of ``prefix``."""
    topics = [f"{prefix}{s}" for s in STREAMS]
    if kind == "alertflow":
        base = [*_alertflow_exe(), "run", "--output", f"kafka://{bootstrap}",
                "--set", "scoring.emit_scores=true", "--set", "kafka.stop_at_end=true",
                "--set", "kafka.fetch_wait_max_ms=10", "--set", f"topic_prefix={prefix}out."]
        for stream, topic in zip(STREAMS, topics, strict=True):
            base += ["--input", f"{stream}=kafka://{bootstrap}/{topic}"]
        for setting in ALERTFLOW_SETTINGS:
            base += ["--set", setting]
    else:
        base = [sys.executable, "-m", "bench.throughput", "passthrough", "--bootstrap",
                bootstrap, "--input-topic", ",".join(topics), "--output-topic",
                f"{prefix}out.passthrough", "--stop-at-end"]
    if procs == 1:
        return [base]
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(procs))
    return [[*base, "-i", str(i), "-a", addresses] for i in range(procs)]


def out_topics(kind: str, prefix: str) -> list[str]:
    """Every output topic of the flow."""
    if kind == "alertflow":
        return [f"{prefix}out.{s}" for s in OUTPUT_STREAMS]
    return [f"{prefix}out.passthrough"]


class CpuTrace:
    """The flow processes' summed CPU seconds, read every ``every_s`` until stopped."""

    def __init__(self, pids: list[int], every_s: float = 0.05) -> None:
        self.pids, self.every_s = pids, every_s
        self.times: list[float] = []  # wall clock (s), as Kafka timestamps are
        self.cpu: list[float] = []
        self._stop = threading.Event()
        self._last: dict[int, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:  # a process that is gone keeps its last reading
                self._last[pid] = _cpu_s(pid) or self._last.get(pid, 0.0)
            self.times.append(time.time())
            self.cpu.append(sum(self._last.values()))
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start_s: float, end_s: float) -> float:
        """CPU seconds from the last reading by ``start_s`` to the first past ``end_s``."""
        if not self.times:
            return float("nan")
        i = max(0, bisect.bisect_right(self.times, start_s) - 1)
        j = min(len(self.times) - 1, bisect.bisect_left(self.times, end_s))
        return self.cpu[j] - self.cpu[i]


@dataclass
class MixResult:
    """One run: the throughput bench's result plus the CPU used within the measured span."""

    run: ThroughputResult
    span_cpu_s: float

    @property
    def span_cpu_us_per_event(self) -> float:
        return self.span_cpu_s / self.run.n * 1e6


def measure(kind: str, procs: int, lines: dict[str, list[bytes]], children: Children,
            tag: str) -> MixResult:
    """One flow over the whole mix on a fresh broker."""
    n = sum(len(v) for v in lines.values())
    with fresh_broker() as broker:
        prefix = f"{tag}."
        broker.create_topics(*(f"{prefix}{s}" for s in STREAMS), *out_topics(kind, prefix),
                             partitions=PARTITIONS)
        fill(broker.bootstrap, prefix, lines)
        cpu_before = _children_cpu_s()
        started = time.monotonic()
        procs_ = [children.start(c, f"{tag}-p{i}")
                  for i, c in enumerate(commands(kind, procs, broker.bootstrap, prefix))]
        trace = CpuTrace([p.pid for p in procs_])
        try:
            for proc in procs_:
                proc.wait(900)
                if proc.returncode != 0:
                    raise RuntimeError(f"{tag}: exit {proc.returncode}\n{children.log_tail(proc)}")
        finally:
            trace.stop()
        wall = time.monotonic() - started
        stamps = [t for topic in out_topics(kind, prefix)
                  for t in read_timestamps(broker.bootstrap, topic, PARTITIONS, stall_s=3)]
    span = (max(stamps) - min(stamps)) / 1000 if stamps else 0.0
    span_cpu = trace.between(min(stamps) / 1000, max(stamps) / 1000) if stamps else float("nan")
    run = ThroughputResult(n, span, wall, n, cpu_s=_children_cpu_s() - cpu_before)
    return MixResult(run, span_cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput_mix",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", "-r", type=int, default=3)
    parser.add_argument("--procs", default="1,2")
    parser.add_argument("--alertflow-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for alertflow's processes (repeatable)")
    args = parser.parse_args(argv)
    ALERTFLOW_SETTINGS[:] = args.alertflow_set
    results: dict[tuple[str, int], list[MixResult]] = {}
    with tempfile.TemporaryDirectory(prefix="alertflow-mix-") as tmp:
        lines = simulate(Path(tmp) / "sim", args.services, args.hours, args.seed)
        sizes = ", ".join(f"{s} {len(v):,}" for s, v in lines.items())
        print(f"mix: {sizes} messages ({args.services} services, {args.hours:g} h)", flush=True)
        children = Children(Path(tmp))
        try:
            for rep in range(args.repeats):
                for procs in (int(p) for p in args.procs.split(",")):
                    for kind in ("passthrough", "alertflow"):
                        tag = f"mix-{kind}-{procs}p-r{rep}"
                        res = measure(kind, procs, lines, children, tag)
                        results.setdefault((kind, procs), []).append(res)
                        run = res.run
                        print(f"  {tag}: {run.n:,} events in {run.span_s:.2f} s = "
                              f"{run.rate:,.0f}/s; wall {run.wall_s:.1f} s; CPU "
                              f"{run.cpu_us_per_sample:.1f} µs/event, "
                              f"{res.span_cpu_us_per_event:.1f} in the span", flush=True)
        finally:
            children.stop_all()
    print(f"\n{sizes} messages; medians of R={args.repeats}\n")
    print("| procs | (a) passthrough events/s | (b) alertflow events/s | (b) vs (a) | "
          "CPU µs/event (a) / (b) | in the span (a) / (b) | target (2 procs) | met |\n"
          "|---:|---:|---:|---:|---:|---:|---|---|")
    for procs in (int(p) for p in args.procs.split(",")):
        a_runs, b_runs = results[("passthrough", procs)], results[("alertflow", procs)]
        a = statistics.median(r.run.rate for r in a_runs)
        b = statistics.median(r.run.rate for r in b_runs)
        ca = statistics.median(r.run.cpu_us_per_sample for r in a_runs)
        cb = statistics.median(r.run.cpu_us_per_sample for r in b_runs)
        sa = statistics.median(r.span_cpu_us_per_event for r in a_runs)
        sb = statistics.median(r.span_cpu_us_per_event for r in b_runs)
        # Issue 15: >= 100k/s, or >= 50% of the passthrough where it cannot reach 200k/s.
        target, met = "—", ""
        if procs == 2:
            goal = TARGET_RATE if a >= 2 * TARGET_RATE else TARGET_RATIO * a
            target = ("≥ 100,000/s" if a >= 2 * TARGET_RATE
                      else "≥ 50% of (a) ((a) < 200,000/s here)")
            met = "yes" if b >= goal else "**no**"
        print(f"| {procs} | {a:,.0f} | {b:,.0f} | {b / a:.0%} | {ca:.1f} / {cb:.1f} | "
              f"{sa:.1f} / {sb:.1f} | {target} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
