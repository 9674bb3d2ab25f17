"""Helpers to write realistic inputs and read outputs in flow tests."""

import random
from pathlib import Path

import orjson

T0 = 1_795_600_800  # 2026-11-25T10:00:00Z


def prom_line(name, labels, ts_s, value):
    return orjson.dumps(
        {
            "timestamp": ts_s,
            "value": str(value),
            "name": name,
            "labels": {"__name__": name, **labels},
        }
    )


def metric_lines(n_series=3, n_points=200, spike_at=150, seed=0):
    """Samples of a few series, interleaved by time as a scraper would write them."""
    rng = random.Random(seed)
    lines = []
    for i in range(n_points):
        for s in range(n_series):
            value = 50 + rng.gauss(0, 1) + (40 if (s == 0 and i == spike_at) else 0)
            lines.append(
                prom_line("cpu_util", {"host": f"h{s}", "cluster": "c1"}, T0 + 30 * i, value)
            )
    return lines


def alert_line(
    fp,
    status,
    starts,
    ends="0001-01-01T00:00:00Z",
    service="api",
    severity="warning",
    name="HighLatency",
    cluster="c1",
):
    return orjson.dumps(
        {
            "version": "4",
            "status": status,
            "receiver": "alertflow",
            "groupKey": "{}:{}",
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": name,
                        "service": service,
                        "severity": severity,
                        "cluster": cluster,
                    },
                    "annotations": {"summary": f"{name} on {service}"},
                    "startsAt": starts,
                    "endsAt": ends,
                    "generatorURL": "http://prom/graph",
                    "fingerprint": fp,
                }
            ],
        }
    )


def alert_lines():
    return [
        alert_line(
            "aaaa000000000001",
            "firing",
            "2026-11-25T10:00:00Z",
            service="db",
            severity="critical",
            name="DBSlow",
        ),
        alert_line("aaaa000000000002", "firing", "2026-11-25T10:02:00Z", service="api"),
        alert_line(
            "aaaa000000000001",
            "firing",
            "2026-11-25T10:00:00Z",
            service="db",
            severity="critical",
            name="DBSlow",
        ),
        alert_line(
            "aaaa000000000001",
            "resolved",
            "2026-11-25T10:00:00Z",
            "2026-11-25T10:20:00Z",
            service="db",
            severity="critical",
            name="DBSlow",
        ),
        alert_line(
            "aaaa000000000002",
            "resolved",
            "2026-11-25T10:02:00Z",
            "2026-11-25T10:21:00Z",
            service="api",
        ),
        alert_line(
            "bbbb000000000001", "firing", "2026-11-25T12:00:00Z", service="web", cluster="c2"
        ),
    ]


def write_lines(path: Path, lines) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
