"""NAB scoring (bench/nab_scoring.py): synthetic files first, then the shared NAB subset."""

import csv
import doctest
import itertools
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from bench import nab_scoring
from bench.nab import windowed_gaussian_scores
from bench.nab_scoring import (
    PROFILES,
    REWARD_LOW_FN,
    REWARD_LOW_FP,
    STANDARD,
    CostProfile,
    LabelledSeries,
    NabScoringError,
    best_threshold,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    score_file,
    threshold_curve,
    window_rows,
)

NAB = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab"

# 200 rows: probation is rows 0..29, one window at rows 100..119 (width 20).
ONE = LabelledSeries("one", n_rows=200, windows=((100, 119),))
# Two windows, one file without any.
TWO = LabelledSeries("two", n_rows=400, windows=((100, 139), (250, 269)))
EMPTY = LabelledSeries("empty", n_rows=300, windows=())


def spikes(series: LabelledSeries, *rows: int, value: float = 1.0) -> np.ndarray:
    scores = np.zeros(series.n_rows)
    scores[list(rows)] = value
    return scores


def perfect(series: LabelledSeries) -> np.ndarray:
    return spikes(series, *(left for left, _ in series.windows))


def test_doctests() -> None:
    result = doctest.testmod(nab_scoring)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("n_rows", "expected"),
    [(0, 0), (10, 1), (200, 30), (1243, 186), (4032, 604), (5000, 750), (22695, 750)],
)
def test_probation_length(n_rows: int, expected: int) -> None:
    assert probation_length(n_rows) == expected


@pytest.mark.parametrize(
    ("position", "expected"),
    [(-1.0, 0.9866142981514305), (0.0, 0.0), (1.0, -0.9866142981514305), (3.0, -0.99999938819),
     (3.01, -1.0), (50.0, -1.0)],
)
def test_scaled_sigmoid(position: float, expected: float) -> None:
    assert scaled_sigmoid(position) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("detector", "expected"),
    [("null", 0.0), ("perfect", 100.0)],
)
def test_null_and_perfect_detectors(profile: CostProfile, detector: str, expected: float) -> None:
    corpus = [ONE, TWO, EMPTY]
    scores = [np.zeros(s.n_rows) if detector == "null" else perfect(s) for s in corpus]
    result = score_corpus(corpus, scores, profile)
    assert result.normalised == pytest.approx(expected)
    assert result.null == -profile.fn * 3
    assert result.perfect == pytest.approx(profile.tp * 3)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_all_ones_detector_scores_negative(profile: CostProfile) -> None:
    corpus = [ONE, TWO, EMPTY]
    ones = [np.ones(s.n_rows) for s in corpus]
    assert score_corpus(corpus, ones, profile, threshold=0.5).normalised < 0
    # The optimiser's only alternative is to detect nothing at all.
    assert score_corpus(corpus, ones, profile).threshold == math.inf


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (100, 1.0),  # first row of the window: the full TP weight
        (109, scaled_sigmoid(-11 / 20) / scaled_sigmoid(-1)),
        (119, scaled_sigmoid(-1 / 20) / scaled_sigmoid(-1)),  # last row: almost nothing
    ],
)
def test_tp_value_by_position(row: int, expected: float) -> None:
    result = score_file(ONE, spikes(ONE, row), 0.5, STANDARD)
    assert (result.tp, result.fp, result.fn) == (pytest.approx(expected), 0.0, 0.0)


def test_late_detection_scores_less_than_early() -> None:
    values = [score_file(ONE, spikes(ONE, row), 0.5, STANDARD).raw for row in range(100, 120)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[-1] > 0


def test_two_detections_in_one_window_count_once() -> None:
    once = score_file(ONE, spikes(ONE, 105), 0.5, STANDARD)
    twice = score_file(ONE, spikes(ONE, 105, 112), 0.5, STANDARD)
    assert twice == once
    assert twice.detected_windows == 1


@pytest.mark.parametrize(
    ("profile", "row", "expected_fp"),
    [
        (STANDARD, 50, -0.11),  # before any window: the full weight
        (STANDARD, 119 + 4 * 19, -0.11),  # > 3 window widths past the window: the full weight
        (REWARD_LOW_FP, 119 + 4 * 19, -0.22),
        (REWARD_LOW_FN, 119 + 4 * 19, -0.11),
        (STANDARD, 119 + 19, 0.11 * scaled_sigmoid(1.0)),  # one width past: nearly full
        (STANDARD, 120, 0.11 * scaled_sigmoid(1 / 19)),  # right after the window: cheap
    ],
)
def test_false_positive_cost(profile: CostProfile, row: int, expected_fp: float) -> None:
    result = score_file(ONE, spikes(ONE, 100, row), 0.5, profile)
    assert result.false_positives == 1
    assert result.fp == pytest.approx(expected_fp)
    assert result.tp == pytest.approx(profile.tp)


def test_fp_cost_counts_from_the_nearest_preceding_window() -> None:
    # Row 280 is 11 rows past the second window (width 20), far past the first (width 40).
    result = score_file(TWO, spikes(TWO, 280), 0.5, STANDARD)
    assert result.fp == pytest.approx(0.11 * scaled_sigmoid(11 / 19))


@pytest.mark.parametrize("rows", [(0,), (29,), (0, 10, 29)])
def test_probationary_detections_are_ignored(rows: tuple[int, ...]) -> None:
    result = score_file(ONE, spikes(ONE, *rows), 0.5, STANDARD)
    assert (result.fp, result.false_positives, result.raw) == (0.0, 0, -1.0)


def test_window_inside_probation_is_not_scored() -> None:
    early = LabelledSeries("early", n_rows=200, windows=((5, 20), (100, 119)))
    assert early.scored_windows == ((100, 119),)
    assert score_file(early, np.zeros(200), 0.5, STANDARD).raw == -1.0


def _brute_force_best(corpus, scores, profile) -> float:
    thresholds = np.unique(np.concatenate([s[np.isfinite(s)] for s in scores]))
    raws = [score_corpus(corpus, scores, profile, threshold=math.inf).raw]
    raws += [score_corpus(corpus, scores, profile, threshold=float(t)).raw for t in thresholds]
    return max(raws)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_threshold_sweep_is_exact(seed: int, profile: CostProfile) -> None:
    rng = np.random.default_rng(seed)
    corpus = [ONE, TWO, EMPTY]
    # Coarse scores make ties; spikes near the windows make the choice non-trivial.
    scores = [np.round(rng.random(s.n_rows) ** 8, 2) for s in corpus]
    for series, file_scores in zip(corpus, scores, strict=True):
        for left, right in series.windows:
            file_scores[rng.integers(left, right + 1)] = rng.uniform(0.5, 1.0)
    scores[0][150] = math.nan  # never a detection
    result = score_corpus(corpus, scores, profile)
    assert result.raw == pytest.approx(_brute_force_best(corpus, scores, profile))
    assert best_threshold(corpus, scores, profile) == result.threshold
    thresholds, raws = threshold_curve(corpus, scores, profile)
    assert thresholds[0] == math.inf
    assert (np.diff(thresholds[1:]) < 0).all()
    direct = [score_corpus(corpus, scores, profile, threshold=float(t)).raw for t in thresholds]
    np.testing.assert_allclose(raws, direct, atol=1e-9)


def test_window_rows_match_first_and_last_rows_inside() -> None:
    stamps = ["2014-01-01 00:00:00", "2014-01-01 00:05:00", "2014-01-01 00:05:00",
              "2014-01-01 00:10:00", "2014-01-01 00:15:00"]
    windows = [
        ["2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000"],  # exact bounds
        ["2014-01-01 00:11:00.000000", "2014-01-01 00:20:00.000000"],  # runs past the end
        ["2014-01-01 00:11:00.000000", "2014-01-01 00:12:00.000000"],  # holds no row
    ]
    assert window_rows(stamps, windows) == ((1, 3), (4, 4))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LabelledSeries("x", 100, ((10, 20), (15, 30))), "disjoint"),
        (lambda: LabelledSeries("x", 100, ((10, 100),)), "disjoint"),
        (lambda: score_file(ONE, np.zeros(10), 0.5, STANDARD), "expected 200 scores"),
        (lambda: score_file(ONE, spikes(ONE, 50, value=math.inf), 0.5, STANDARD), r"\+inf"),
        (lambda: window_rows(["2014-01-02", "2014-01-01"], []), "non-decreasing"),
    ],
)
def test_bad_input_is_rejected(make, message: str) -> None:
    with pytest.raises(NabScoringError, match=message):
        make()


def _nab_windowed_gaussian(values: list[float], window: int, step: int) -> list[float]:
    """NAB's windowedGaussian_detector loop, transcribed: the reference for the numpy port."""
    data, buffer, mean, std, out = [], [], 0.0, 1.0, []
    for value in values:
        z = abs(value - mean) / std
        out.append(1 - 0.5 * math.erfc(z / math.sqrt(2)) if data else 0.0)
        if len(data) < window:
            data.append(value)
        else:
            buffer.append(value)
            if len(buffer) < step:
                continue
            data, buffer = data[step:] + buffer, []
        mean, std = float(np.mean(data)), float(np.std(data)) or 1e-6
    return out


@pytest.mark.parametrize(("window", "step"), [(20, 5), (50, 1), (64, 7)])
def test_windowed_gaussian_matches_nab_loop(window: int, step: int) -> None:
    rng = np.random.default_rng(window)
    values = np.concatenate([np.full(10, 45.0), rng.normal(1e6, 3.0, 150),
                             rng.normal(1e6 + 40, 1.0, 150)])
    expected = _nab_windowed_gaussian(values.tolist(), window, step)
    np.testing.assert_allclose(windowed_gaussian_scores(values, window, step), expected,
                               atol=1e-9)


# --------------------------------------------------------------------------- the real subset


@pytest.fixture(scope="module")
def nab_corpus() -> list[LabelledSeries]:
    if not (NAB / "combined_windows.json").exists():
        message = f"NAB data set not found at {NAB} (expected shared/datasets/nab beside the repo)"
        if os.environ.get("CI"):  # CI has shared/ beside the clone: a missing set is a bug
            pytest.fail(message)
        pytest.skip(message)
    labels = json.loads((NAB / "combined_windows.json").read_text())
    corpus = []
    for name, windows in sorted(labels.items()):
        with (NAB / "data" / name).open(newline="") as handle:
            stamps = [row[0] for row in itertools.islice(csv.reader(handle), 1, None)]
        corpus.append(LabelledSeries(name, len(stamps), window_rows(stamps, windows)))
    return corpus


def test_real_windows_all_found(nab_corpus: list[LabelledSeries]) -> None:
    labels = json.loads((NAB / "combined_windows.json").read_text())
    assert sum(len(s.windows) for s in nab_corpus) == sum(len(w) for w in labels.values())
    assert all(s.scored_windows == s.windows for s in nab_corpus)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_real_null_perfect_and_all_ones(nab_corpus: list[LabelledSeries],
                                        profile: CostProfile) -> None:
    zeros = [np.zeros(s.n_rows) for s in nab_corpus]
    assert score_corpus(nab_corpus, zeros, profile).normalised == 0.0
    best = [perfect(s) for s in nab_corpus]
    result = score_corpus(nab_corpus, best, profile)
    assert result.normalised == pytest.approx(100.0)
    assert result.threshold == 1.0
    ones = [np.ones(s.n_rows) for s in nab_corpus]
    assert score_corpus(nab_corpus, ones, profile, threshold=0.5).normalised < 0
