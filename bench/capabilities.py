"""What the detector does with each kind of anomaly operations data has, on synthetic series.

Run from the repository root::

    .venv/bin/python bench/capabilities.py                      # shipped defaults
    .venv/bin/python bench/capabilities.py --set vol_weight=1   # one setting changed
    .venv/bin/python bench/capabilities.py --threshold 0.05

Each kind (issue 9 item 3) has a seeded generator: a plain series with a daily cycle and
noise, then one anomaly of that kind (none for ``quiet`` kinds, which measure only false
alarms). The generators were written from the kinds' descriptions, never fitted to the
real files. Per kind, over ``--seeds`` seeds, at ``--threshold`` (the product's by
default): how many anomalies were detected (an alarm between the anomaly's start and its
end plus an hour), the median delay from the start to the first such alarm, and false
alarms per day before the anomaly (after a week of learning) and after it (from an hour
after its end). An alarm is an onset: the score rising to the threshold from below it.
"""

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertflow.operators.anomaly.factory import detector_factory
from alertflow.schemas.config import DetectorSettings, ScoringConfig

DAY, HOUR, MIN = 86400, 3600, 60
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z, a Monday
LEARN_S = 7 * DAY  # no false alarm counted before a week of history


@dataclass
class Case:
    """One series (epoch seconds) with its anomaly's [start, end) (start=end: none)."""

    t: np.ndarray
    x: np.ndarray
    start: float
    end: float


def _daily(t: np.ndarray, low: float, high: float) -> np.ndarray:
    """A day shaped like traffic: lowest at 04:00 UTC, highest at 16:00."""
    phase = 2 * np.pi * ((t % DAY) / DAY - 16 / 24)
    return low + (high - low) * 0.5 * (1 + np.cos(phase))


def _grid(days: float, step: int) -> np.ndarray:
    return T0 + np.arange(0, int(days * DAY), step, dtype=np.float64)


def weekly(rng: np.random.Generator) -> Case:
    """Weekends at 55 % of weekday traffic; a Wednesday in week 5 looks like a Sunday."""
    t = _grid(35, 15 * MIN)
    weekday = ((t - T0) // DAY) % 7
    factor = np.where(weekday >= 5, 0.55, 1.0)
    start = T0 + 30 * DAY  # Wednesday of week 5
    factor = np.where((t >= start) & (t < start + DAY), 0.55, factor)
    x = factor * _daily(t, 200, 1000) * (1 + 0.04 * rng.standard_normal(t.size))
    return Case(t, x, start, start + DAY)


def drift(rng: np.random.Generator) -> Case:
    """Disk use at 40-60 % each day; from day 8 it climbs 4 points a day toward 100 %."""
    t = _grid(18, 5 * MIN)
    start = T0 + 8 * DAY
    x = _daily(t, 40, 60) + 1.5 * rng.standard_normal(t.size)
    x += np.clip((t - start) / DAY, 0, None) * 4.0
    return Case(t, np.minimum(x, 100.0), start, T0 + 18 * DAY)


def _noise_for_six_hours(rng: np.random.Generator, sd_inside: float) -> Case:
    """The same level; the noise's spread is ``sd_inside`` instead of 3 for six hours."""
    t = _grid(12, 5 * MIN)
    start = T0 + 9 * DAY + 10 * HOUR
    sd = np.where((t >= start) & (t < start + 6 * HOUR), sd_inside, 3.0)
    return Case(t, _daily(t, 80, 120) + sd * rng.standard_normal(t.size), start,
                start + 6 * HOUR)


def variance_up(rng: np.random.Generator) -> Case:
    """The same level, its noise 2.5x wider for six hours (a flapping backend)."""
    return _noise_for_six_hours(rng, 7.5)


def oscillation(rng: np.random.Generator) -> Case:
    """The same mean, a +-6 square wave of period 20 minutes for four hours (a retry loop)."""
    t = _grid(12, 5 * MIN)
    start = T0 + 9 * DAY + 10 * HOUR
    inside = (t >= start) & (t < start + 4 * HOUR)
    wave = np.where(((t - start) // (10 * MIN)) % 2 == 0, 6.0, -6.0)
    x = _daily(t, 80, 120) + 3.0 * rng.standard_normal(t.size) + np.where(inside, wave, 0)
    return Case(t, x, start, start + 4 * HOUR)


def variance_down(rng: np.random.Generator) -> Case:
    """Noise falls to a sixth for six hours at the same level (a replica stops serving)."""
    return _noise_for_six_hours(rng, 0.5)


def time_of_day(rng: np.random.Generator) -> Case:
    """Traffic 20-100 over the day; at 03:00 on day 9 an hour at 85 (usual at 16:00)."""
    t = _grid(12, 5 * MIN)
    start = T0 + 9 * DAY + 3 * HOUR
    x = _daily(t, 20, 100) * (1 + 0.05 * rng.standard_normal(t.size))
    inside = (t >= start) & (t < start + HOUR)
    x[inside] = 85 * (1 + 0.05 * rng.standard_normal(int(inside.sum())))
    return Case(t, x, start, start + HOUR)


def regime(rng: np.random.Generator) -> Case:
    """Latency 80-120 over the day; from day 8 30 higher for good (a slower release)."""
    t = _grid(14, 5 * MIN)
    start = T0 + 8 * DAY
    x = _daily(t, 80, 120) + 3.0 * rng.standard_normal(t.size) + np.where(t >= start, 30, 0)
    return Case(t, x, start, start + HOUR)


def counts_gaps(rng: np.random.Generator) -> Case:
    """Requests per ~minute (jittered stamps, three gaps of 4-8 h); a 20-minute 5x burst."""
    t = T0 + np.cumsum(rng.uniform(40, 80, size=14 * 24 * 60))
    for day in (3, 6, 11):
        gap_at = T0 + day * DAY + rng.uniform(0, 12) * HOUR
        t = np.where(t > gap_at, t + rng.uniform(4, 8) * HOUR, t)
    t = t[t < T0 + 14 * DAY]
    start = T0 + 10 * DAY + 14 * HOUR
    lam = _daily(t, 1, 6) * np.where((t >= start) & (t < start + 20 * MIN), 5.0, 1.0)
    return Case(t, rng.poisson(lam).astype(np.float64), start, start + 20 * MIN)


def sparse_counts(rng: np.random.Generator) -> Case:
    """Errors per minute, mostly 0 (one every ~50 min); 10 minutes of 5 a minute."""
    t = _grid(12, MIN)
    start = T0 + 9 * DAY + 9 * HOUR
    lam = np.where((t >= start) & (t < start + 10 * MIN), 5.0, 0.02)
    return Case(t, rng.poisson(lam).astype(np.float64), start, start + 10 * MIN)


def flatline(rng: np.random.Generator) -> Case:
    """A per-minute gauge that sticks at its last value for six hours (a dead exporter)."""
    t = _grid(12, MIN)
    start = T0 + 9 * DAY + 2 * HOUR
    x = _daily(t, 80, 120) + 3.0 * rng.standard_normal(t.size)
    inside = (t >= start) & (t < start + 6 * HOUR)
    x[inside] = x[np.argmax(inside) - 1]
    return Case(t, x, start, start + 6 * HOUR)


def flat_then_busy(rng: np.random.Generator) -> Case:
    """No anomaly: a queue at 0 for most of each night, then busy by day (false alarms only)."""
    t = _grid(12, 5 * MIN)
    busy = _daily(t, -40, 60)
    x = np.where(busy > 0, busy + 3.0 * rng.standard_normal(t.size), 0.0)
    return Case(t, np.maximum(x, 0.0), t[-1] + 1, t[-1] + 1)


KINDS: dict[str, tuple[str, Callable[[np.random.Generator], Case]]] = {
    "weekly": ("weekly seasonality (a weekday like a Sunday)", weekly),
    "drift": ("slow drift toward a limit", drift),
    "variance_up": ("variance x2.5, same level", variance_up),
    "oscillation": ("oscillation, same mean", oscillation),
    "variance_down": ("variance /6, same level", variance_down),
    "time_of_day": ("in-range spike at the wrong hour", time_of_day),
    "regime": ("regime change (new normal)", regime),
    "counts_gaps": ("counts, irregular stamps, gaps", counts_gaps),
    "sparse_counts": ("sparse integer counts", sparse_counts),
    "flatline": ("flat stretch (stuck value)", flatline),
    "flat_then_busy": ("long flat nights (no anomaly)", flat_then_busy),
}


@dataclass
class Outcome:
    """One case's result at one threshold."""

    detected: bool | None  # None: the case has no anomaly
    delay_s: float
    fa_before: float  # per day
    fa_after: float


def measure(case: Case, scores: np.ndarray, threshold: float) -> Outcome:
    """Onsets of ``scores >= threshold`` against the case's anomaly and its quiet stretches."""
    up = scores >= threshold
    onsets = case.t[up & ~np.concatenate(([False], up[:-1]))]
    before = onsets[(onsets >= T0 + LEARN_S) & (onsets < case.start)]
    before_days = max(case.start - (T0 + LEARN_S), 0.0) / DAY
    after_from = case.end + HOUR
    after = onsets[onsets >= after_from]
    after_days = max(case.t[-1] - after_from, 0.0) / DAY
    if case.start == case.end:
        return Outcome(None, float("nan"), len(before) / max(before_days, 1e-9), float("nan"))
    hits = onsets[(onsets >= case.start) & (onsets < case.end + HOUR)]
    # An alarm still on when the anomaly starts (an onset before it) does not count.
    return Outcome(hits.size > 0, float(hits[0] - case.start) if hits.size else float("nan"),
                   len(before) / before_days if before_days > 0 else float("nan"),
                   len(after) / after_days if after_days > 0 else float("nan"))


def run_kind(make: Callable[[], object], generator: Callable[[np.random.Generator], Case],
             seeds: int, threshold: float) -> list[Outcome]:
    """Every seed's case through a fresh detector."""
    outcomes = []
    for seed in range(seeds):
        case = generator(np.random.default_rng(seed))
        det = make()
        scores = det.update_many(case.x, (case.t * 1e9).astype(np.int64))
        outcomes.append(measure(case, scores, threshold))
    return outcomes


def _fmt(values: list[float], unit: float = 1.0, digits: int = 1) -> str:
    finite = [v / unit for v in values if v == v]
    return f"{statistics.median(finite):.{digits}f}" if finite else "—"


def table(settings: DetectorSettings, seeds: int, threshold: float,
          kinds: Sequence[str]) -> str:
    """The markdown table for ``settings``."""
    make = detector_factory(settings)
    lines = ["| kind | detected | median delay (min) | FA/day before | FA/day after |",
             "|---|---|---|---|---|"]
    for kind in kinds:
        label, generator = KINDS[kind]
        out = run_kind(make, generator, seeds, threshold)
        found = [o.detected for o in out if o.detected is not None]
        det = f"{sum(found)}/{len(found)}" if found else "(none)"
        lines.append(f"| {kind}: {label} | {det} | {_fmt([o.delay_s for o in out], 60, 0)} | "
                     f"{_fmt([o.fa_before for o in out], digits=2)} | "
                     f"{_fmt([o.fa_after for o in out], digits=2)} |")
    return "\n".join(lines)


def _override(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    if name not in DetectorSettings.model_fields:
        raise argparse.ArgumentTypeError(f"unknown detector setting {name!r}")
    return name, float(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Print one table per settings (the shipped defaults, then each ``--set`` group)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], type=_override,
                        help="a detector setting NAME=VALUE (repeatable)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threshold", type=float, default=ScoringConfig().threshold)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    settings = DetectorSettings(**dict(args.set))
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    changed = ", ".join(f"{k}={v:g}" for k, v in args.set) or "shipped defaults"
    print(f"{changed}; threshold {args.threshold:g}; seeds 0-{args.seeds - 1}\n")
    print(table(settings, args.seeds, args.threshold, kinds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
