"""Dynamic thresholds judged (issue 14): the alert rate they achieve against their target,
and how often they flap, on NAB, the ops KPIs and simulated seasonal series.

Each series runs as the stream runs it: the forecaster's baseline before each sample,
then :class:`DynamicLevels`. Measured after the first 3 days. Per target rate:
``firing`` = share of samples spent firing (the alert rate a pager sees), ``over`` =
share beyond the fire level (what the quantile aims at), fires per day, and flaps per
day (a fire that clears within 30 minutes, or fires again within 30 minutes of clearing).
The defaults (window, clear_factor, min_fire_s/min_clear_s) are chosen by leaving one
dataset group out, on ``|log2(firing / target)| + flaps per day``; out-of-fold beside
in-sample. ``python -m bench.prediction_dynamic [--quick]``
"""

import argparse
import math

import numpy as np
from alertflow.operators.prediction.dynamic import DynamicLevels
from alertflow.operators.prediction.forecaster import ForecasterSettings, SeasonalForecaster
from alertflow.schemas.config_prediction import DynamicSpec

from bench.prediction import DATA, _read_csv

NS = 10**9
RATES = (0.005, 0.01, 0.05)
# (window, clear_factor, min_fire_s, min_clear_s)
GRID = [
    (w, c, f, cl)
    for w in (288, 2016)
    for c in (2.0, 5.0)
    for f, cl in ((0.0, 0.0), (300.0, 600.0), (900.0, 1800.0))
]
FLAP_S = 1800


def series(quick: bool) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Group -> [(times in s, values)]: the datasets' raw samples and simulated seasons."""
    cap, keep = (2, 3000) if quick else (6, 6000)
    out: dict[str, list] = {}
    for root in (DATA / "nab" / "data", DATA / "ops" / "data"):
        for cat in sorted(p for p in root.iterdir() if p.is_dir()):
            for f in sorted(cat.glob("*.csv"))[:cap]:
                ts, vs = _read_csv(f)
                if (ts[-1] - ts[0]) >= 4 * 86400 and np.std(vs) > 0:
                    out.setdefault(cat.name, []).append((ts[-keep:], vs[-keep:]))
    rng = np.random.default_rng(11)  # not the tests' seeds
    sims = []
    for k in range(cap):
        t = np.arange(10 * 288) * 300
        y = 50 + 20 * k * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 2, t.size)
        sims.append((t, y))
    out["simulated"] = sims
    return out


def baselines(ts: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """The forecaster's baseline before each sample (NaN while it has none)."""
    step = max(300, int(np.median(np.diff(ts))))
    f = SeasonalForecaster(ForecasterSettings(min_step_s=step))
    out = np.full(len(vs), np.nan)
    for i, (t, v) in enumerate(zip(ts, vs, strict=True)):
        b = f.baseline_at(int(t) * NS)
        if b is not None:
            out[i] = b
        f.learn_one(float(v), int(t) * NS)
    return out


def judge(ts, vs, base, rate, point) -> tuple[float, float, float, float]:
    """(firing share, over-level share, fires/day, flaps/day) after the first 3 days."""
    window, clear_factor, min_fire, min_clear = point
    spec = DynamicSpec(
        rate=rate, window=window, clear_factor=clear_factor,
        min_fire_s=min_fire, min_clear_s=min_clear,
    )  # fmt: skip
    levels = DynamicLevels(spec)
    start = ts[0] + 3 * 86400
    firing = over = n = fires = flaps = 0
    fired_at = cleared_at = -math.inf
    for t, v, b in zip(ts, vs, base, strict=True):
        if math.isnan(b):
            continue
        level = levels.fire_level(b)
        event = levels.observe(float(v), int(t) * NS, float(b))
        if t < start:
            continue
        n += 1
        firing += levels.firing
        over += bool(v > level)
        if event == "fire":
            fires += 1
            flaps += t - cleared_at < FLAP_S
            fired_at = t
        elif event == "clear":
            flaps += t - fired_at < FLAP_S
            cleared_at = t
    days = max(n, 1) * max(1, np.median(np.diff(ts))) / 86400
    return firing / max(n, 1), over / max(n, 1), fires / days, flaps / days


def cost(firing: float, rate: float, flaps: float) -> float:
    """What the defaults are chosen on: distance from the target rate, plus flapping."""
    return abs(math.log2((firing + 1e-4) / rate)) + flaps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    data = series(args.quick)
    # results[group][point][rate] -> [(firing, over, fires/day, flaps/day)] per series
    results: dict = {}
    for group, items in data.items():
        for ts, vs in items:
            base = baselines(ts, vs)
            for point in GRID:
                for rate in RATES:
                    r = judge(ts, vs, base, rate, point)
                    results.setdefault(group, {}).setdefault(point, {}).setdefault(rate, [])
                    results[group][point][rate].append(r)

    def score(groups: list[str], point: tuple) -> float:
        return float(np.mean([
            cost(f, rate, fl) for g in groups for rate in RATES
            for f, _o, _fi, fl in results[g][point][rate]
        ]))  # fmt: skip

    every = list(data)
    best_all = min(GRID, key=lambda p: score(every, p))
    d = DynamicSpec()
    default = (d.window, d.clear_factor, d.min_fire_s, d.min_clear_s)
    print(f"in-sample best (window, clear_factor, min_fire_s, min_clear_s) = {best_all}; "
          f"default = {default}")  # fmt: skip
    print(f"{'group':<24}{'settings':<38}{'rate':>7}{'firing':>9}{'over':>8}"
          f"{'fires/d':>9}{'flaps/d':>9}{'cost':>7}")  # fmt: skip
    for group in data:
        chosen = min(GRID, key=lambda p: score([g for g in every if g != group], p))
        rows = {
            f"out-of-fold {chosen}": chosen,
            "in-sample": best_all,
            "no hysteresis": (best_all[0], best_all[1], 0.0, 0.0),
            "7-day window (the old default)": (2016, 5.0, 300.0, 600.0),
        }
        for label, point in rows.items():
            for rate in RATES:
                arr = np.array(results[group][point][rate])
                f, o, fi, fl = arr.mean(axis=0)
                print(f"{group:<24}{label:<38}{rate:>7}{f:>9.4f}{o:>8.4f}{fi:>9.2f}{fl:>9.2f}"
                      f"{cost(f, rate, fl):>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
