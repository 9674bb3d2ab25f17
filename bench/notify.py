"""Notification delivery latency: from the sink storing a decision to a healthy receiver.

Both paths POST to the same real loopback receiver in one run: alertflow (outbox write,
wake, a delivery thread with rate limit, breaker and signature) and a reference that
posts directly with httpx from the caller. Target: p99 <= 1 s when receivers are healthy.

    python -m bench.notify [--count 2000] [--rate 200] [--repeats 3] [--record]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from alertflow.dataflows.notifier import Deliverer, Receiver
from alertflow.dataflows.notify_outbox import Delivery, Outbox
from alertflow.schemas.config_notify import ReceiverConfig, RetryConfig

from bench.report import record, run_entry
from tests.http_receiver import Receiver as HttpReceiver


def _arrivals(server: HttpReceiver) -> dict[str, float]:
    return {orjson.loads(r.body)["i"]: r.at for r in server.received}


def _alertflow(count: int, rate: float, directory: Path) -> list[float]:
    server = HttpReceiver().start()
    outbox = Outbox(directory / f"outbox-{time.monotonic_ns()}.sqlite")
    config = ReceiverConfig(name="hook", url=server.url, rate_per_minute=rate * 120,
                            burst=int(rate) + 1)
    receiver = Receiver.from_config(config)
    receiver.signing_key = b"bench-key"
    deliverer = Deliverer(outbox, {"hook": receiver}, RetryConfig())
    deliverer.start()
    sent: dict[str, float] = {}
    for i in range(count):
        key = f"n{i}"
        sent[key] = time.perf_counter()
        body = orjson.dumps({"i": key, "title": "x" * 200})
        outbox.add([Delivery(key, key, "hook", server.url, body, {}, time.time(), 0)])
        deliverer.wake()
        time.sleep(max(0.0, sent[key] + 1 / rate - time.perf_counter()))
    deliverer.stop(drain_s=30)
    server.stop()
    return [got - sent[k] for k, got in _arrivals(server).items()]


def _direct(count: int, rate: float) -> list[float]:
    server = HttpReceiver().start()
    client = httpx.Client()
    sent: dict[str, float] = {}
    for i in range(count):
        key = f"n{i}"
        sent[key] = time.perf_counter()
        client.post(server.url, content=orjson.dumps({"i": key, "title": "x" * 200}))
        time.sleep(max(0.0, sent[key] + 1 / rate - time.perf_counter()))
    server.stop()
    return [got - sent[k] for k, got in _arrivals(server).items()]


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="notifications per second")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            ours, ref = _alertflow(args.count, args.rate, Path(tmp)), _direct(args.count, args.rate)
            assert len(ours) == len(ref) == args.count, "a notification went missing"
            rows.append((_p(ours, 50), _p(ours, 99), _p(ref, 50), _p(ref, 99)))
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    lines = [
        "| path | p50 ms | p99 ms (median of repeats) | every repeat's p99 ms |",
        "|---|---|---|---|",
        f"| alertflow outbox + delivery thread | {med[0]:.1f} | {med[1]:.1f} | "
        f"{', '.join(f'{r[1]:.1f}' for r in rows)} |",
        f"| direct httpx POST (reference) | {med[2]:.1f} | {med[3]:.1f} | "
        f"{', '.join(f'{r[3]:.1f}' for r in rows)} |",
        "",
        f"Target p99 <= 1000 ms: {'met' if max(r[1] for r in rows) <= 1000 else 'MISSED'} "
        f"({args.count} notifications at {args.rate:g}/s, {args.repeats} repeats, none lost).",
    ]
    print("\n".join(lines))
    if args.record:
        entry = run_entry("-m bench.notify", argv or [], lines, "httpx")
        record("Notification delivery latency", entry)


if __name__ == "__main__":
    main()

