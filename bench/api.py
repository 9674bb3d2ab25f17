"""alertflow serve's HTTP side: incident-list latency on a big store, webhook intake rate.

Run from the repository root::

    .venv/bin/python -m bench.api            # 1,000,000 anomalies, 10,000 incidents, 20 s intake
    .venv/bin/python -m bench.api --quick    # 100,000 / 2,000 / 5 s: a smoke run

(1) Incident list. A SQLite store gets N anomalies and M incidents (3 versions each,
    so 3M version rows) through the store's own writer. Then, R=3 rounds of 200 requests
    each, p50/p99 of: GET /api/v1/incidents over real HTTP (uvicorn, an httpx client),
    the same with a service filter, and the store query for a page 5,000 deep by
    cursor. The reference, in the same run on the same data: the page computed from
    the append-only versions (latest version per incident by GROUP BY, OFFSET paging),
    which is what a store without the maintained current-state table would run.
(2) Webhook intake. ``alertflow serve`` (embedded queue feeding the flow, SQLite store)
    pinned to one core with ``taskset``; a raw keep-alive HTTP/1.1 client in another
    process (C connections, prebuilt Alertmanager v4 payloads, one alert each) posts
    for D seconds. Payloads/s = 202 answers per second (503s counted apart). The
    reference: a bare FastAPI endpoint answering 202 without auth, validation or queue,
    under the same uvicorn, pinning and client: the framework's floor. Between them, the
    receiver alone (the same app, its queue drained and dropped by a thread): what the
    flow's share of the one core costs.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from alertflow.store import tables as t
from alertflow.store.engine import open_store
from alertflow.store.incidents import IncidentFilter, list_incidents
from alertflow.store.tokens import seed_token

from bench.api_data import TOKEN, fill, payload


def _percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _reference_page(engine: sa.Engine, offset: int) -> list:
    v = t.incident_versions.c
    latest = (
        sa.select(v.incident_id, sa.func.max(v.version).label("version"))
        .group_by(v.incident_id)
        .subquery()
    )
    query = (
        sa.select(v.doc, v.updated_ns)
        .join(latest, sa.and_(v.incident_id == latest.c.incident_id, v.version == latest.c.version))
        .order_by(v.incident_id.desc())
        .offset(offset)
        .limit(50)
    )
    with engine.connect() as conn:
        return [json.loads(doc) for doc, _ in conn.execute(query)]


def bench_list(url: str, rounds: int, per_round: int) -> list[tuple[str, float, float]]:
    from alertflow.api.app import create_app
    from alertflow.api.deps import ApiContext

    from tests.api.servers import ApiServer

    engine = open_store(url)
    ctx = ApiContext(engine, intake=None)  # type: ignore[arg-type]
    ctx.flow_running.set()
    server = ApiServer(create_app(ctx)).start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"})
    deep = None
    for _ in range(100):  # a cursor 5,000 deep
        deep = list_incidents(engine, IncidentFilter(), 50, deep)[1]
    cases = {
        "REST GET /api/v1/incidents (50, newest)": lambda: client.get(
            "/api/v1/incidents"
        ).raise_for_status(),
        "REST ... ?service=svc-07": lambda: client.get(
            "/api/v1/incidents", params={"service": "svc-07"}
        ).raise_for_status(),
        "store: page 5,000 deep by cursor": lambda: list_incidents(
            engine, IncidentFilter(), 50, deep
        ),
        "reference: latest-version GROUP BY, first page": lambda: _reference_page(engine, 0),
        "reference: GROUP BY, OFFSET 5,000": lambda: _reference_page(engine, 5000),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            fn()  # warm
            # The references take ~100x longer: 20 requests a round keep the run in minutes.
            n = per_round if not name.startswith("reference") else max(5, per_round // 10)
            results[name].append(_percentiles(_timed(fn, n)))
    server.stop()
    return [
        (name, statistics.median(p[0] for p in r), statistics.median(p[1] for p in r))
        for name, r in results.items()
    ]


# -- intake -------------------------------------------------------------------------------

_BARE_APP = """
from fastapi import FastAPI, Request
app = FastAPI()
@app.post("/api/v1/alerts/alertmanager", status_code=202)
async def take(request: Request):
    await request.body()
    return {"stream": "alerts"}

async def raw(scope, receive, send):  # no framework: uvicorn's own floor
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"19")]})
    await send({"type": "http.response.body", "body": b'{"stream":"alerts"}'})
"""


async def _client(port: int, connections: int, seconds: float) -> dict[str, int]:
    bodies = [payload(i) for i in range(2000)]
    requests = [
        (
            "POST /api/v1/alerts/alertmanager HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    counts = {"202": 0, "503": 0, "other": 0}
    deadline = time.monotonic() + seconds

    async def one(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.monotonic() < deadline:
            writer.write(requests[i % len(requests)])
            i += connections
            line = (await reader.readline()).split()
            if len(line) < 2:  # the server closed the connection: count it, stop this one
                counts["other"] += 1
                break
            status = line[1].decode()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            counts[status if status in counts else "other"] += 1
        writer.close()

    await asyncio.gather(*(one(k) for k in range(connections)))
    return counts


def _client_process(port: int, connections: int, seconds: float, out) -> None:
    out.put(asyncio.run(_client(port, connections, seconds)))


def _measure(port: int, connections: int, seconds: float) -> dict[str, int]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client_process, args=(port, connections, seconds, queue))
    proc.start()
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-p", "-c", "1", str(proc.pid)], capture_output=True)
    counts = queue.get()
    proc.join()
    return counts


def receiver_only(port: int, store: str) -> None:
    """The API app with its queue drained and dropped by a thread: the receiver's own cost."""
    import threading

    import uvicorn
    from alertflow.api.app import create_app
    from alertflow.api.deps import ApiContext
    from alertflow.api.intake import QueueChannel
    from alertflow.operators.intake_queue import IntakeQueue

    engine = open_store(store)
    seed_token(engine, TOKEN)
    queue = IntakeQueue("alerts", 20_000)
    ctx = ApiContext(engine, QueueChannel({"alerts": queue}))
    ctx.flow_running.set()

    def drop() -> None:
        while True:
            if not queue.drain(1000):
                time.sleep(0.005)

    threading.Thread(target=drop, daemon=True).start()
    uvicorn.run(
        create_app(ctx),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def _wait(url: str, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _servers(workdir: Path) -> dict[str, tuple[list[str], str]]:
    """Name -> (command line, readiness path) of each server measured."""
    (workdir / "bare.py").write_text(_BARE_APP)
    py = sys.executable
    return {
        "alertflow serve: receiver -> queue -> flow -> store": (
            [
                py,
                "-m",
                "alertflow.dataflows.cli",
                "serve",
                "--queue-size",
                "20000",
                "--store",
                f"sqlite:///{workdir / 'intake.db'}",
                "--http",
                "127.0.0.1:{port}",
            ],
            "/healthz",
        ),
        "receiver only: auth, validation, queue (drained, dropped)": (
            [
                py,
                "-m",
                "bench.api",
                "--receiver-store",
                f"sqlite:///{workdir / 'receiver.db'}",
                "--receiver",
                "{port}",
            ],
            "/healthz",
        ),
        BARE: (_uvicorn(workdir, "bare:app"), "/"),
        "reference: the same, uvicorn's pure-Python h11 + asyncio": (
            [*_uvicorn(workdir, "bare:app"), "--http", "h11", "--loop", "asyncio"],
            "/",
        ),
        "reference: bare ASGI callable, no framework (uvicorn + client floor)": (
            _uvicorn(workdir, "bare:raw"),
            "/",
        ),
    }


BARE = "reference: bare FastAPI endpoint, no auth/validation/queue"


def _uvicorn(workdir: Path, app: str) -> list[str]:
    # uvicorn picks httptools and uvloop when installed (alertflow depends on both)
    return [sys.executable, "-m", "uvicorn", "--app-dir", str(workdir), app, "--log-level",
            "warning", "--no-access-log", "--port", "{port}"]


def bench_intake(
    workdir: Path, seconds: float, connections: int, repeats: int
) -> list[tuple[str, float, int]]:
    from tests.api.servers import free_port

    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    env = {**os.environ, "ALERTFLOW_ADMIN_TOKEN": TOKEN}
    rates: dict[str, list[float]] = {}
    refused: dict[str, int] = {}
    for _ in range(repeats):  # interleaved, so drifting load hits every server alike
        for name, (argv, ready) in _servers(workdir).items():
            port = free_port()
            argv = [a.replace("{port}", str(port)) for a in argv]
            proc = subprocess.Popen([*pin, *argv], env=env, stderr=subprocess.DEVNULL)
            try:
                _wait(f"http://127.0.0.1:{port}{ready}", proc)
                time.sleep(1)
                counts = _measure(port, connections, seconds)
            finally:
                proc.terminate()
                proc.wait(60)
            rates.setdefault(name, []).append(counts["202"] / seconds)
            refused[name] = refused.get(name, 0) + counts["503"]
    return [(name, statistics.median(r), refused[name]) for name, r in rates.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-list", action="store_true")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="fill the store in DIR/store.db once and reuse it on later runs",
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--receiver-store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver_only(args.receiver, args.receiver_store)
        return
    anomalies, incidents, seconds = (
        (100_000, 2_000, 5.0) if args.quick else (1_000_000, 10_000, 10.0)
    )
    workdir = Path(tempfile.mkdtemp(prefix="alertflow-bench-api-"))
    try:
        if not args.skip_list:
            url = f"sqlite:///{(args.keep or workdir) / 'store.db'}"
            if args.keep is None or not (args.keep / "store.db").exists():
                fill(url, anomalies, incidents).dispose()
            print(
                f"\n## Incident list: {anomalies:,} anomalies, {incidents:,} incidents (SQLite), "
                "medians of 3 rounds x 200 requests (references x 20)\n"
            )
            print("| query | p50 ms | p99 ms |\n|---|---:|---:|")
            for name, p50, p99 in bench_list(url, 3, 200):
                print(f"| {name} | {p50:.2f} | {p99:.2f} |")
        if not args.skip_intake:
            print(
                f"\n## Webhook intake: server on one core (taskset -c 0), client on another, "
                f"{seconds:.0f} s, 32 keep-alive connections, median of 3 interleaved runs\n"
            )
            print("| server | payloads/s (202) | / bare FastAPI | 503s |\n|---|---:|---:|---:|")
            found = bench_intake(workdir, seconds, 32, 3)
            bare = dict((name, rate) for name, rate, _ in found)[BARE]
            for name, rate, refused in found:
                print(f"| {name} | {rate:,.0f} | {rate / bare:.2f} | {refused} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
