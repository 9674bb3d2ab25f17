"""Series that trend toward thresholds, with the true breach times (issue 14).

Each scenario is one series with a daily cycle and noise, and a threshold:

- ``breach``: from a random time on, a linear or accelerating growth that crosses it;
- ``near_miss``: a growth that levels off below it (a saturating curve);
- ``seasonal``: a daily peak that comes close but stays under it;
- ``spike``: a short burst over it, which no forecast can see coming (a breach, but
  not a predictable one: scored apart).

The truth is the first time the noise-free value crosses the threshold.
"""

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from alertflow.operators.simulate.emit import write_json, write_jsonl

KINDS = ("breach", "near_miss", "seasonal", "spike")
# metric name, labels' service, threshold side, base level, threshold
_METRICS = (
    ("disk_used_ratio", "db", "above", 0.55, 0.9),
    ("memory_rss_bytes", "api", "above", 2.0e9, 3.2e9),
    ("queue_depth", "worker", "above", 200.0, 1000.0),
    ("http_error_ratio", "checkout", "above", 0.01, 0.05),
    ("cert_days_left", "gateway", "below", 30.0, 7.0),
)


@dataclass(frozen=True, slots=True)
class TrendScenario:
    """One series, its threshold and when (if ever) it truly crosses it."""

    kind: str
    name: str
    labels: dict[str, str]
    direction: str
    threshold: float
    times_ns: np.ndarray
    values: np.ndarray
    breach_ns: int | None  # None: never crosses


def _shape(kind: str, rng: random.Random, n: int, start: int) -> np.ndarray:
    """The deviation, in units of (threshold - base), from ``start`` on."""
    t = np.arange(n, dtype=float)
    out = np.zeros(n)
    k = np.clip(t - start, 0, None)
    span = n - start
    if kind == "breach":
        cross_at = rng.uniform(0.35, 0.8) * span  # crosses this far into the growth
        power = rng.choice((1.0, 1.5, 2.0))
        out = 1.15 * (k / cross_at) ** power  # 1.0 at the crossing (before the cycle)
    elif kind == "near_miss":
        scale = rng.uniform(0.15, 0.35) * span
        out = rng.uniform(0.55, 0.75) * (1 - np.exp(-k / scale))
    elif kind == "spike":
        at = start + int(rng.uniform(0.3, 0.8) * span)
        width = rng.randint(3, 10)
        out[at : at + width] = 1.4
    return out


def trend_scenarios(seed: int, count: int, days: float = 3.0, step_s: int = 60,
                    start_ns: int = 1_795_600_800 * 10**9) -> list[TrendScenario]:  # fmt: skip
    """``count`` scenarios drawn from ``seed``: kinds in turn, metrics and shapes at random."""
    rng = random.Random(f"{seed}:trends")
    nprng = np.random.default_rng([seed & 0xFFFF_FFFF, 14])
    n = int(days * 86400 / step_s)
    times = start_ns + np.arange(n, dtype=np.int64) * step_s * 10**9
    hours = (times / 1e9 % 86400) / 3600
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        name, service, direction, base, threshold = _METRICS[rng.randrange(len(_METRICS))]
        room = threshold - base
        peak = rng.uniform(0, 24)
        cycle = rng.uniform(0.05, 0.2) * np.cos(2 * math.pi * (hours - peak) / 24)
        if kind == "seasonal":
            cycle = rng.uniform(0.6, 0.8) * (1 + np.cos(2 * math.pi * (hours - peak) / 24)) / 2
        start = int(n * rng.uniform(0.4, 0.6))  # at least a day of normal history first
        truth = base + room * (cycle + _shape(kind, rng, n, start))
        noise = nprng.normal(0, abs(room) * rng.uniform(0.01, 0.04), n)
        crossed = np.flatnonzero(truth > threshold if direction == "above" else truth < threshold)
        out.append(
            TrendScenario(
                kind, name, {"service": service, "scenario": f"{seed}-{i}-{kind}"},
                direction, threshold, times, truth + noise,
                int(times[crossed[0]]) if crossed.size else None,
            )
        )  # fmt: skip
    return out


def scenario_records(scenarios: list[TrendScenario]) -> list[dict[str, object]]:
    """prometheus-kafka-adapter records of every scenario, interleaved by time."""
    rows = []
    for s in scenarios:
        for t, v in zip(s.times_ns, s.values, strict=True):
            rows.append((int(t), s.labels["scenario"], s, float(v)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [
        {
            "timestamp": t // 10**9,
            "value": f"{v:.6g}",
            "name": s.name,
            "labels": {"__name__": s.name, **s.labels},
        }
        for t, _, s, v in rows
    ]


def truth_and_config(scenarios: list[TrendScenario]) -> tuple[list[dict], dict]:
    """The breach truth per scenario, and a config section with one threshold each."""
    truth = [
        {
            "scenario": s.labels["scenario"], "kind": s.kind, "name": s.name,
            "threshold": s.threshold, "direction": s.direction,
            "breach_ns": s.breach_ns,
        }
        for s in scenarios
    ]  # fmt: skip
    thresholds = [
        {
            "match": {"__name__": s.name, "scenario": s.labels["scenario"]},
            s.direction: s.threshold,
            "name": f"{s.name} {'>' if s.direction == 'above' else '<'} {s.threshold:g}",
        }
        for s in scenarios
    ]
    return truth, {"prediction": {"thresholds": thresholds}}


def write_trends(
    out_dir: Path, seed: int, count: int, days: float = 3.0, start_ns: int | None = None
) -> int:
    """Write ``trends.jsonl`` (metrics), ``breaches.json`` and ``prediction.yaml``; return lines."""
    if start_ns is None:
        scenarios = trend_scenarios(seed, count, days)
    else:
        scenarios = trend_scenarios(seed, count, days, start_ns=start_ns)
    truth, config = truth_and_config(scenarios)
    write_json(out_dir / "breaches.json", truth)
    (out_dir / "prediction.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return write_jsonl(out_dir / "trends.jsonl", scenario_records(scenarios))
