"""What the detector misses and where it false-alarms, per file, with a guess at why.

Run from the repository root::

    .venv/bin/python bench/detection_misses.py             # shipped defaults
    .venv/bin/python bench/detection_misses.py --set lik_span_s=0 --top 15
    .venv/bin/python bench/detection_misses.py --versus gaussian  # what a peer does better

Each dataset is scored at its own best standard-profile threshold (NAB's sweep). A missed
window and a false-alarm episode (a run of detections outside every window, split at gaps
of more than a day of samples) are put into one category by simple tests on the data
around them, in this order:

- ``suppressed``: the same settings without post-detection suppression (``sup_damp=1``)
  detect it at the same threshold: an earlier alarm held it back;
- ``gap``: a timestamp gap of more than 10 usual intervals within the window's reach;
- ``flat``: most of the stretch repeats one value (counts at 0, a stuck sensor);
- ``level shift``: the median moved by more than 3 pre-window MADs and stayed;
- ``variance change``: spread grew or shrank 2x at about the same level;
- ``time of day``: the values are ordinary for the series but not for this time of day
  (compared with the same time on earlier days, hourly or finer series with 3+ days);
- ``week``: the same but only a week back explains it (weekday/weekend);
- for false alarms instead: ``daily pattern`` / ``weekly pattern`` when the same time one
  day (or one week) back looked the same, i.e. a seasonal model would have expected it;
- ``subtle``: none of the above (small or slow changes, or a labelling choice).

The tests are heuristics to rank what capability would explain most misses; they are not
a detector and nothing in ``operators/`` depends on them.

``--versus gaussian`` (or ``hst``) compares instead, per category, each detector at that
category's own best threshold: per file the windows only one of them finds and the
false-alarm rows and cost of each, the categories where the peer scores higher first.
"""

import argparse
import collections
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detection_data import DATASETS, Dataset, detect, load_all, part
from bench.nab import _finite_only, hst_scores, windowed_gaussian_scores
from bench.nab_scoring import STANDARD, score_file, sweep_units

DAY_S, WEEK_S = 86400.0, 7 * 86400.0


def _mad(v: np.ndarray) -> float:
    if v.size == 0:
        return 0.0
    return float(np.median(np.abs(v - np.median(v)))) or float(np.std(v)) or 1e-9


def _same_time_z(values: np.ndarray, t: np.ndarray, rows: np.ndarray, back_s: float,
                 copies: int) -> float:
    """Median |z| of ``rows`` against the same time 1..copies periods back (NaN if none)."""
    zs = []
    for i in rows:
        past = []
        for k in range(1, copies + 1):
            j = int(np.searchsorted(t, t[i] - k * back_s))
            if 0 <= j < i and abs(t[j] - (t[i] - k * back_s)) < back_s / 48:
                past.append(values[j])
        if len(past) >= 2:
            past = np.array(past)
            zs.append(abs(values[i] - np.median(past)) / max(_mad(past), 1e-9))
    return float(np.median(zs)) if zs else float("nan")


def categorise(values: np.ndarray, t: np.ndarray, left: int, right: int,
               alarm: bool = False) -> str:
    """One reason for rows ``left..right`` being hard, by the module docstring's tests.

    ``alarm``: the rows are a false alarm, so the seasonal tests ask the opposite question
    (unusual for the level, usual for this time of day or week: a missing seasonal model).
    """
    width = max(right - left + 1, 20)
    interval = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    reach = slice(max(0, left - width), min(t.size, right + width))
    if np.diff(t[reach]).max(initial=0.0) > 10 * interval:
        return "gap"
    inside = values[left : right + 1]
    before = values[max(0, left - 3 * width) : left]
    if before.size < 10:
        return "too early"
    counts = collections.Counter(np.round(inside, 9).tolist())
    if counts.most_common(1)[0][1] > 0.6 * inside.size and inside.size >= 5:
        return "flat"
    mad = _mad(before)
    after = values[right + 1 : right + 1 + width]
    if abs(np.median(inside) - np.median(before)) > 3 * mad and (
            after.size == 0 or abs(np.median(after) - np.median(before)) > 3 * mad):
        return "level shift"
    ratio = _mad(inside) / mad
    if (ratio > 2 or ratio < 0.5) and abs(np.median(inside) - np.median(before)) < 2 * mad:
        return "variance change"
    days = (t[-1] - t[0]) / DAY_S
    if interval <= 3600 and days >= 3:
        rows = np.arange(left, right + 1)
        z_day = _same_time_z(values, t, rows, DAY_S, 3)
        z_level = float(np.median(np.abs(inside - np.median(before)) / mad))
        if alarm:
            z_week = _same_time_z(values, t, rows, WEEK_S, 2) if days >= 15 else np.nan
            if z_day == z_day and z_day < 2:
                return "daily pattern"
            if z_week == z_week and z_week < 2:
                return "weekly pattern"
            return "subtle"
        if z_day == z_day and z_day > 3 and z_level < 3:
            return "time of day"
        if days >= 15:
            z_week = _same_time_z(values, t, rows, WEEK_S, 2)
            if z_week == z_week and z_day > 3 and z_week < 2:
                return "week"
    return "subtle"


def episodes(rows: np.ndarray, split: int) -> list[tuple[int, int]]:
    """Runs of ``rows`` (sorted indices) split where consecutive rows are ``split`` apart."""
    out: list[tuple[int, int]] = []
    for r in rows.tolist():
        if out and r - out[-1][1] <= split:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def report(ds: Dataset, scores: list[np.ndarray], threshold: float, top: int,
           free: list[np.ndarray]) -> str:
    """The worst ``top`` files' misses and false alarms; ``free``: scores unsuppressed."""
    lines = [f"## {ds.name}: threshold {threshold:.4g}", "",
             "| file | category | interval | windows | missed | FP rows | FP cost | "
             "missed: why | false alarms: why |", "|---|---|---|---|---|---|---|---|---|"]
    why_missed: collections.Counter[str] = collections.Counter()
    why_fp: collections.Counter[str] = collections.Counter()
    rows = []
    for f, cat, t_ns, s, unheld in zip(ds.files, ds.categories, ds.stamps_ns, scores, free,
                                       strict=True):
        series, values = f.series, f.values
        t = t_ns.astype(np.float64) / 1e9
        fs = score_file(series, s, threshold, STANDARD)
        units = sweep_units(series)
        detected = np.nan_to_num(s, nan=0.0) >= threshold
        detected[: series.probation] = False
        missed = []
        for left, right in series.scored_windows:
            if not detected[left : right + 1].any():
                missed.append("suppressed" if np.nanmax(unheld[left : right + 1],
                                                        initial=0.0) >= threshold
                              else categorise(values, t, left, right))
        fp_rows = np.flatnonzero(detected & (units.window < 0))
        interval = float(np.median(np.diff(t))) if t.size > 1 else 0.0
        fps = [categorise(values, t, a, b, alarm=True) for a, b in
               episodes(fp_rows, max(1, int(DAY_S / max(interval, 1.0))))]
        why_missed.update(missed)
        why_fp.update(fps)
        cost = -fs.fp  # positive: what false alarms cost
        rows.append((fs.fn + fs.fp, f"| {Path(series.name).stem} | {cat} | {interval:g}s | "
                     f"{fs.windows} | {fs.windows - fs.detected_windows} | "
                     f"{fs.false_positives} | {cost:.2f} | {', '.join(missed) or '—'} | "
                     f"{', '.join(fps) or '—'} |"))
    rows.sort(key=lambda r: r[0])  # worst (most negative missed + FP cost) first
    lines.extend(r[1] for r in rows[:top])
    lines += ["", "Missed windows by reason: " + ", ".join(
        f"{k} {v}" for k, v in why_missed.most_common()),
              "False-alarm episodes by reason: " + ", ".join(
        f"{k} {v}" for k, v in why_fp.most_common())]
    return "\n".join(lines)


def _peer(name: str, values: np.ndarray) -> np.ndarray:
    if name == "gaussian":
        return _finite_only(values, windowed_gaussian_scores)
    return _finite_only(values, lambda v: hst_scores(v, 25, 8, 250, 42))


def versus(ds: Dataset, ours: list[np.ndarray], peer_name: str) -> str:
    """Per category where the peer scores higher: what each finds and costs, file by file."""
    theirs = [_peer(peer_name, f.values) for f in ds.files]
    lines = [f"## {ds.name}: alertflow vs {peer_name}, each at the category's best threshold",
             "", "| category | file | windows | only ours | only theirs | our FP rows (cost) | "
             "their FP rows (cost) |", "|---|---|---|---|---|---|---|"]
    cats = sorted(set(ds.categories))
    best = {}
    for cat in cats:
        keep = lambda n, c, cat=cat: c == cat  # noqa: E731
        best[cat] = [part([ds], {ds.name: sc}, keep).best(STANDARD) for sc in (ours, theirs)]
    for cat in sorted(cats, key=lambda c: best[c][0][0] - best[c][1][0]):
        (mine, t_ours), (peer, t_peer) = best[cat]
        if mine != mine:
            continue  # no windows to find
        lines.append(f"| **{cat}** | ours {mine:.1f} at {t_ours:.4g}, theirs {peer:.1f} at "
                     f"{t_peer:.4g} | | | | | |")
        for f, c, a, b in zip(ds.files, ds.categories, ours, theirs, strict=True):
            if c != cat:
                continue
            fa, fb = (score_file(f.series, s, t, STANDARD) for s, t in ((a, t_ours),
                                                                        (b, t_peer)))
            hit = [[(np.nan_to_num(s[lo:hi + 1]) >= t).any() for lo, hi in
                    f.series.scored_windows] for s, t in ((a, t_ours), (b, t_peer))]
            lines.append(f"| | {Path(f.series.name).stem} | {fa.windows} | "
                         f"{sum(x and not y for x, y in zip(*hit, strict=True))} | "
                         f"{sum(y and not x for x, y in zip(*hit, strict=True))} | "
                         f"{fa.false_positives} ({-fa.fp:.2f}) | "
                         f"{fb.false_positives} ({-fb.fp:.2f}) |")
    return "\n".join(lines)


def _override(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    return name.strip(), float(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/detection_misses.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--set", action="append", default=[], type=_override,
                        help="a setting on top of the defaults, NAME=VALUE (repeatable)")
    parser.add_argument("--top", type=int, default=12, help="worst files shown per dataset")
    parser.add_argument("--versus", choices=("gaussian", "hst"),
                        help="compare with a peer per category instead")
    args = parser.parse_args(argv)
    datasets = load_all([d for d in args.datasets.split(",") if d])
    overrides = dict(args.set)
    for ds in datasets:
        scores = detect(ds, overrides)
        if args.versus:
            print(versus(ds, scores, args.versus), end="\n\n")
            continue
        p = part([ds], {ds.name: scores}, lambda n, c: True)
        value, threshold = p.best(STANDARD)
        print(f"{ds.name}: standard {value:.1f}")
        free = detect(ds, overrides | {"sup_damp": 1.0})
        print(report(ds, scores, threshold, args.top, free), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
