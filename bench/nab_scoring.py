"""NAB v1.1 scoring (Lavin & Ahmad 2015), written from the paper and NAB's reference behaviour.

A file is described by a :class:`LabelledSeries` (its length, its probationary rows and its
anomaly windows as inclusive row ranges); a detector's output for it is one anomaly score per
row. A row is a *detection* when its score is ``>= threshold``; NaN never is.

Per file (NAB's ``Sweeper``): rows before :func:`probation_length` are ignored. Inside a window
a detection is worth ``tp * S(pos) / S(-1)`` with ``pos = -(right - i + 1) / width`` (so the
window's first row is worth exactly ``tp``) and only the window's best, i.e. first, detection
counts; a window without one costs ``fn``. Outside windows a detection costs
``fp * S(|prev_right - i| / (prev_width - 1))`` (negative), or ``fp`` in full when no window
precedes it. ``S`` is :func:`scaled_sigmoid`.

One threshold per cost profile for the whole corpus, chosen by :func:`score_corpus` to maximise
the summed raw score. NAB searches it by hill climbing; here every distinct score is tried
exactly (one descending sweep over all rows of all files), so the result is never worse.
The normalised score is ``100 * (raw - null) / (perfect - null)``: the null detector (no
detections) scores 0, one detection on the first row of every window scores 100.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from alertflow.schemas.errors import AlertflowError

PROBATION_PERCENT = 0.15
# scaled_sigmoid(-1): the value of the earliest possible detection, used to scale TPs to 1.
_MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0


class NabScoringError(AlertflowError, ValueError):
    """Scores or labels that cannot be scored (wrong length, unsorted, overlapping windows)."""


@dataclass(frozen=True)
class CostProfile:
    """NAB application profile: the weight of a true positive, a false positive, a miss."""

    name: str
    tp: float
    fp: float
    fn: float


STANDARD = CostProfile("standard", tp=1.0, fp=0.11, fn=1.0)
REWARD_LOW_FP = CostProfile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0)
REWARD_LOW_FN = CostProfile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)
PROFILES = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


def scaled_sigmoid(position: float) -> float:
    """NAB's ``S(x) = 2 / (1 + e^(5x)) - 1``, clamped to -1 beyond ``x > 3``.

    >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (0.98661, 0.0, -1.0)
    """
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, value)


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """Number of leading rows whose detections are ignored.

    NAB's ``min(floor(percent * n), percent * 5000)``; rows ``i < that`` are probationary.

    >>> probation_length(4032), probation_length(22695)
    (604, 750)
    """
    return math.ceil(min(math.floor(percent * n_rows), percent * 5000))


def window_rows(
    timestamps: Sequence[str] | np.ndarray, windows: Sequence[Sequence[str]]
) -> tuple[tuple[int, int], ...]:
    """Inclusive row ranges of ``[start, end]`` timestamp windows: first row >= start, last <= end.

    Timestamps are ISO-like strings (``"2014-02-19 00:22:00"``, any sub-second digits) and must
    not decrease. A window that holds no row is dropped.

    >>> window_rows(["2014-01-01 00:00:00", "2014-01-01 00:05:00", "2014-01-01 00:10:00"],
    ...             [["2014-01-01 00:01:00.000000", "2014-01-01 00:10:00.000000"]])
    ((1, 2),)
    """
    try:
        stamps = np.asarray(timestamps, dtype="datetime64[us]")
    except ValueError as exc:
        raise NabScoringError(f"timestamps: expected ISO date-times ({exc})") from None
    if stamps.size > 1 and (np.diff(stamps) < np.timedelta64(0, "us")).any():
        raise NabScoringError("timestamps: expected a non-decreasing series")
    rows = []
    for start, end in windows:
        left = int(np.searchsorted(stamps, np.datetime64(start, "us"), side="left"))
        right = int(np.searchsorted(stamps, np.datetime64(end, "us"), side="right")) - 1
        if left <= right:
            rows.append((left, right))
    return tuple(rows)


@dataclass(frozen=True)
class LabelledSeries:
    """One data file as the scorer sees it: its length and its windows (inclusive rows)."""

    name: str
    n_rows: int
    windows: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        previous_right = -1
        for left, right in self.windows:
            if not previous_right < left <= right < self.n_rows:
                raise NabScoringError(
                    f"{self.name}: expected sorted, disjoint windows inside {self.n_rows} rows, "
                    f"got {self.windows}"
                )
            previous_right = right

    @property
    def probation(self) -> int:
        """Rows ``[0, probation)`` are probationary."""
        return probation_length(self.n_rows)

    @property
    def scored_windows(self) -> tuple[tuple[int, int], ...]:
        """Windows with at least one row past the probationary period (NAB ignores the rest)."""
        return tuple(w for w in self.windows if w[1] >= self.probation)


@dataclass(frozen=True)
class SweepUnits:
    """Per-row sweep values before profile weights.

    ``window``: window number, -1 outside windows; ``tp_unit``: ``S(pos) / S(-1)`` inside
    windows; ``fp_unit``: the (negative) sigmoid cost outside windows.
    """

    window: np.ndarray
    tp_unit: np.ndarray
    fp_unit: np.ndarray

    def weighted(self, profile: CostProfile) -> np.ndarray:
        """Each row's sweep score as a detection under ``profile``."""
        return np.where(self.window >= 0, profile.tp * self.tp_unit, profile.fp * self.fp_unit)


def sweep_units(series: LabelledSeries) -> SweepUnits:
    """The profile-independent sweep values of every row of ``series``."""
    n = series.n_rows
    rows = np.arange(n, dtype=np.float64)
    window = np.full(n, -1, dtype=np.int64)
    tp_unit = np.zeros(n)
    fp_unit = np.full(n, -1.0)  # no preceding window: the full FP cost
    for k, (left, right) in enumerate(series.windows):
        width = right - left + 1
        window[left : right + 1] = k
        tp_unit[left : right + 1] = (
            _scaled_sigmoid(-(right - rows[left : right + 1] + 1) / width) / _MAX_TP
        )
        fp_unit[left : right + 1] = 0.0
        stop = series.windows[k + 1][0] if k + 1 < len(series.windows) else n
        after = rows[right + 1 : stop]
        # NAB's sweeper divides by zero for a one-row window; its older scorer used 2.0.
        position = np.abs(right - after) / (width - 1) if width > 1 else np.full(after.size, 2.0)
        fp_unit[right + 1 : stop] = _scaled_sigmoid(position)
    return SweepUnits(window=window, tp_unit=tp_unit, fp_unit=fp_unit)


@dataclass(frozen=True)
class FileScore:
    """One file's score at one threshold, split into its parts (costs are negative)."""

    name: str
    tp: float
    fp: float
    fn: float
    detected_windows: int
    windows: int
    false_positives: int

    @property
    def raw(self) -> float:
        """The file's NAB raw score."""
        return self.tp + self.fp + self.fn


def _checked(series: LabelledSeries, scores: np.ndarray | Sequence[float]) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != (series.n_rows,):
        raise NabScoringError(
            f"{series.name}: expected {series.n_rows} scores, got shape {values.shape}"
        )
    if np.isposinf(values).any():
        # ``inf`` is the threshold that detects nothing; a score cannot reach it.
        raise NabScoringError(f"{series.name}: expected finite or NaN scores, got +inf")
    return values


def score_file(
    series: LabelledSeries,
    scores: np.ndarray | Sequence[float],
    threshold: float,
    profile: CostProfile,
    units: SweepUnits | None = None,
) -> FileScore:
    """Score one file directly: detections are ``scores >= threshold`` past the probation."""
    values = _checked(series, scores)
    units = units or sweep_units(series)
    detected = values >= threshold
    detected[: series.probation] = False
    outside = detected & (units.window < 0)
    tp = fn = 0.0
    hits = 0
    for left, right in series.scored_windows:
        inside = np.flatnonzero(detected[left : right + 1])
        if inside.size:
            tp += profile.tp * float(units.tp_unit[left + inside[0]])
            hits += 1
        else:
            fn -= profile.fn
    return FileScore(
        name=series.name,
        tp=tp,
        fp=profile.fp * float(units.fp_unit[outside].sum()),
        fn=fn,
        detected_windows=hits,
        windows=len(series.scored_windows),
        false_positives=int(outside.sum()),
    )


def null_score(series: LabelledSeries, profile: CostProfile) -> float:
    """Raw score of a detector that never fires: every scored window is missed."""
    return -profile.fn * len(series.scored_windows)


def perfect_score(series: LabelledSeries, profile: CostProfile) -> float:
    """Raw score of one detection at the first (scorable) row of every window."""
    units = sweep_units(series)
    return sum(
        profile.tp * float(units.tp_unit[max(left, series.probation)])
        for left, _ in series.scored_windows
    )


def normalised_score(raw: float, null: float, perfect: float) -> float:
    """``100 * (raw - null) / (perfect - null)``; NaN when there is no window to score."""
    if perfect == null:
        return math.nan
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class CorpusScore:
    """A detector's score on a corpus under one profile, at one threshold for all files."""

    profile: CostProfile
    threshold: float
    files: tuple[FileScore, ...]
    null: float
    perfect: float

    @property
    def raw(self) -> float:
        """Summed raw score of all files."""
        return sum(f.raw for f in self.files)

    @property
    def normalised(self) -> float:
        """The NAB score: 0 for the null detector, 100 for the perfect one."""
        return normalised_score(self.raw, self.null, self.perfect)


def threshold_curve(
    corpus: Sequence[LabelledSeries],
    scores: Sequence[np.ndarray | Sequence[float]],
    profile: CostProfile,
) -> tuple[np.ndarray, np.ndarray]:
    """Every useful threshold, descending and starting with ``inf``, and the corpus raw score.

    All scorable rows of all files are swept from the highest score down; the raw score is
    updated per row (an FP adds its cost, a window row can only raise its window's best value)
    and read at the end of each run of equal scores, i.e. at each distinct score.
    """
    parts_score, parts_window, parts_value = [], [], []
    null = 0.0
    offset = 0
    for series, file_scores in zip(corpus, scores, strict=True):
        values = _checked(series, file_scores)
        units = sweep_units(series)
        keep = np.isfinite(values)
        keep[: series.probation] = False
        parts_score.append(values[keep])
        parts_window.append(np.where(units.window >= 0, units.window + offset, -1)[keep])
        parts_value.append(units.weighted(profile)[keep])
        null += null_score(series, profile)
        offset += len(series.windows)
    if not parts_score or sum(p.size for p in parts_score) == 0:
        return np.array([math.inf]), np.array([null])
    order = np.argsort(-np.concatenate(parts_score), kind="stable")
    score = np.concatenate(parts_score)[order]
    window = np.concatenate(parts_window)[order]
    value = np.concatenate(parts_value)[order]

    delta = np.where(window < 0, value, 0.0)
    in_window = np.flatnonzero(window >= 0)
    by_window = in_window[np.argsort(window[in_window], kind="stable")]
    bounds = np.flatnonzero(np.diff(window[by_window])) + 1
    for group in np.split(by_window, bounds):
        if group.size == 0:
            continue
        best = np.maximum.accumulate(value[group])
        # The first detection turns a miss (-fn) into a hit; later ones only ever improve it.
        delta[group] = np.diff(best, prepend=-profile.fn)
    total = null + np.cumsum(delta)
    run_ends = np.append(np.flatnonzero(score[1:] != score[:-1]), score.size - 1)
    return (
        np.concatenate(([math.inf], score[run_ends])),
        np.concatenate(([null], total[run_ends])),
    )


def best_threshold(
    corpus: Sequence[LabelledSeries],
    scores: Sequence[np.ndarray | Sequence[float]],
    profile: CostProfile,
) -> float:
    """The threshold that maximises the corpus raw score (``inf``: never detect).

    Exact: the best point of :func:`threshold_curve`; ties prefer the higher threshold.
    """
    thresholds, raws = threshold_curve(corpus, scores, profile)
    return float(thresholds[int(np.argmax(raws))])


def score_corpus(
    corpus: Sequence[LabelledSeries],
    scores: Sequence[np.ndarray | Sequence[float]],
    profile: CostProfile,
    threshold: float | None = None,
) -> CorpusScore:
    """Score a corpus at ``threshold``, or at :func:`best_threshold` when it is None."""
    if len(corpus) != len(scores):
        raise NabScoringError(f"expected scores for {len(corpus)} files, got {len(scores)}")
    if threshold is None:
        threshold = best_threshold(corpus, scores, profile)
    files = tuple(
        score_file(series, file_scores, threshold, profile)
        for series, file_scores in zip(corpus, scores, strict=True)
    )
    return CorpusScore(
        profile=profile,
        threshold=threshold,
        files=files,
        null=sum(null_score(s, profile) for s in corpus),
        perfect=sum(perfect_score(s, profile) for s in corpus),
    )
