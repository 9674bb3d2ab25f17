"""Cost of the trace and log signals: per span, per edge call, per log line.

Run from the repository root::

    .venv/bin/python bench/signals.py

Synthetic input, seeded: 20 services, each request a server span in a caller, a
client span to one of its 4 callees and the callee's server span (so a third of
the spans pair into an edge call); one window a minute. Log lines: WARN lines of
12 templates with numbers in them, over 30 services' worth of minutes.

Rows (CPU time per item, best of three, one core):

- ``sketch add``: ``QuantileSketch.add``, beside appending to a list (what exact
  percentiles need) and, per window, ``numpy.percentile`` of that list.
- ``edge join``: ``EdgeJoin.add`` per span.
- ``windows``: ``ServiceWindows.add`` per span/edge call with p50/p99 and edges,
  then closing every window.
- ``log patterns``: ``LogPatterns.on_logs`` per line with the template series and
  tails (the defaults) beside both off (``max_series=0, follow_s=0``).
"""

import random
import time
from collections import defaultdict

import numpy as np
from alertflow.operators.log_patterns import LogPatterns, LogPatternSettings
from alertflow.operators.quantile_sketch import QuantileSketch
from alertflow.operators.red_metrics import ServiceWindows
from alertflow.operators.trace_edges import EdgeJoin
from alertflow.schemas.records import LogEvent, SpanEvent

NS = 10**9
SERVICES = [f"svc{i}" for i in range(20)]


def spans(n_requests: int, seed: int = 1) -> list[SpanEvent]:
    rng = random.Random(seed)
    out: list[SpanEvent] = []
    for i in range(n_requests):
        t = i * 10**7  # 100 requests a second
        caller = rng.choice(SERVICES)
        callee = SERVICES[(SERVICES.index(caller) + rng.randint(1, 4)) % len(SERVICES)]
        dur = int(rng.lognormvariate(-4, 0.7) * NS)
        trace, root, client = f"{i:032x}", f"r{i}", f"c{i}"
        err = rng.random() < 0.01
        out += [
            SpanEvent(trace, root, "", caller, "GET /", "server", t, t + 2 * dur, err),
            SpanEvent(trace, client, root, caller, "GET /x", "client", t + 1, t + dur, err),
            SpanEvent(trace, f"s{i}", client, callee, "GET /x", "server", t + 2, t + dur - 1, err),
        ]
    return out


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def bench_sketch(values: list[float]) -> None:
    def sketch() -> None:
        s = QuantileSketch()
        for v in values:
            s.add(v)
        s.quantile(0.5), s.quantile(0.99)

    def exact() -> None:
        kept: list[float] = []
        for v in values:
            kept.append(v)
        np.percentile(kept, [50, 99])

    n = len(values)
    print(f"{'sketch add + 2 quantiles':34} {best(sketch) / n * 1e6:8.3f} µs/value")
    print(f"{'list append + numpy.percentile':34} {best(exact) / n * 1e6:8.3f} µs/value (exact)")


def bench_spans(all_spans: list[SpanEvent]) -> None:
    n = len(all_spans)
    calls = EdgeJoin().add(all_spans)
    print(f"{'edge join':34} {best(lambda: EdgeJoin().add(all_spans)) / n * 1e6:8.3f} µs/span"
          f"  ({len(calls)} calls from {n} spans)")  # fmt: skip
    by_service: dict[str, list] = defaultdict(list)
    for event in [*all_spans, *calls]:
        by_service[event.service].append(event)

    def windows() -> None:
        for service, events in by_service.items():
            w = ServiceWindows(service, "c1", 60.0, 0.0)
            w.add(events)
            w.flush()

    total = n + len(calls)
    per = best(windows) / total * 1e6
    print(f"{'windows (RED, p50/p99, edges)':34} {per:8.3f} µs/event (span or edge call)")
    per_span = (best(lambda: EdgeJoin().add(all_spans)) + best(windows)) / n * 1e6
    print(f"{'join + windows, per input span':34} {per_span:8.3f} µs/span")


def log_lines(n: int, seed: int = 2) -> list[LogEvent]:
    rng = random.Random(seed)
    templates = [f"stage {k} of job {{}} took {{}} ms over budget {{}}" for k in range(12)]
    out = []
    for i in range(n):
        msg = rng.choice(templates).format(rng.randint(1, 10**6), rng.randint(5, 900), 250)
        out.append(LogEvent(i * 10**8, "cart", "warn", msg, {"cluster": "c1"}, ref=f"l:{i}"))
    return out


def bench_logs(lines: list[LogEvent]) -> None:
    n = len(lines)
    for label, settings in (
        ("log patterns, series + tails", LogPatternSettings()),
        ("log patterns, both off", LogPatternSettings(max_series=0, follow_s=0)),
    ):

        def run(settings: LogPatternSettings = settings) -> None:
            lp = LogPatterns("c1", "cart", settings)
            lp.on_logs(lines)
            lp.flush()
            lp.take_series()

        print(f"{label:34} {best(run) / n * 1e6:8.3f} µs/line")


def main() -> None:
    rng = random.Random(3)
    bench_sketch([rng.lognormvariate(-4, 0.7) for _ in range(200_000)])
    bench_spans(spans(60_000))
    bench_logs(log_lines(200_000))


if __name__ == "__main__":
    main()
