"""Data for bench/api.py: a store of anomalies and incidents, Alertmanager payloads."""

import json
import sys
import time

import sqlalchemy as sa
from alertflow.schemas.timefmt import format_ns
from alertflow.store import tables as t
from alertflow.store.engine import open_store
from alertflow.store.tokens import seed_token
from alertflow.store.writer import StoreWriter

T0 = 1_795_600_800_000_000_000
TOKEN = "bench-token"
SERVICES = [f"svc-{i:02d}" for i in range(40)]


def _fmt(ns: int) -> str:
    return format_ns(ns)


def _incident(n: int, version: int) -> dict:
    opened = T0 + n * 60 * 10**9
    services = [SERVICES[n % 40], SERVICES[(n * 7) % 40]]
    return {
        "id": f"v{n}-{version}",
        "incident_id": f"inc-{n:06d}",
        "version": version,
        "status": "resolved" if version == 3 and n % 2 else ("open" if version == 1 else "updated"),
        "domain": "prod",
        "opened_at": _fmt(opened),
        "updated_at": _fmt(opened + version * 10**9),
        "resolved_at": None,
        "services": services,
        "members": [
            {
                "kind": "alert",
                "id": f"fp{n}-{k}",
                "ts": _fmt(opened),
                "last_seen": _fmt(opened),
                "count": 1,
                "episodes": 1,
                "status": "firing",
                "service": services[0],
                "labels": {"alertname": "HighLatency", "service": services[0]},
            }
            for k in range(4)
        ],
        "root_causes": [
            {"service": services[0], "score": 0.8, "evidence": ["p99 latency 4x baseline"]}
        ],
        "severity": "critical" if n % 3 else "warning",
        "summary": f"incident {n}",
        "recommendations": ["check the last deploy"],
    }


def _anomaly_rows(start: int, count: int) -> list[dict]:
    rows = []
    for i in range(start, start + count):
        series = f'latency{{service="{SERVICES[i % 40]}",pod="p{i % 997}"}}'
        doc = json.dumps(
            {
                "id": f"a{i}",
                "series": series,
                "name": "latency",
                "labels": {"service": SERVICES[i % 40]},
                "ts": _fmt(T0 + i * 10**8),
                "value": 4.2,
                "score": 0.91,
                "expected": 1.0,
                "lower": 0.5,
                "upper": 1.5,
                "detectors": ["robust_ewma"],
                "severity": "critical",
                "interval_s": 15.0,
            }
        )
        rows.append(
            {
                "id": f"a{i}",
                "series": series,
                "ts_ns": T0 + i * 10**8,
                "score": 0.91,
                "severity": "critical",
                "doc": doc,
            }
        )
    return rows


def fill(url: str, anomalies: int, incidents: int) -> sa.Engine:
    engine = open_store(url)
    seed_token(engine, TOKEN)
    started = time.perf_counter()
    with engine.begin() as conn:  # bulk, as the writer's insert but one transaction per 50k
        for start in range(0, anomalies, 50_000):
            conn.execute(t.anomalies.insert(), _anomaly_rows(start, min(50_000, anomalies - start)))
    writer = StoreWriter(engine)
    for version in (1, 2, 3):
        for start in range(0, incidents, 1000):
            writer.write(
                ("incidents", _incident(n, version))
                for n in range(start, min(start + 1000, incidents))
            )
    print(
        f"filled {anomalies:,} anomalies, {incidents:,} incidents x3 versions "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return engine


def payload(i: int) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "alertflow",
            "groupKey": "{}:{}",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": f"Rule{i % 50}",
                        "service": SERVICES[i % 40],
                        "cluster": "prod",
                        "severity": "warning",
                    },
                    "annotations": {"summary": "latency high"},
                    "startsAt": "2026-11-25T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus/graph",
                    "fingerprint": f"{i:016x}",
                }
            ],
        }
    ).encode()
