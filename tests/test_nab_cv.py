"""bench/nab_cv.py's fixed-threshold figures: one threshold for every training file."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.detection_data import Part
from bench.nab_cv import THRESHOLDS, Fold, fixed_curve, swept_and_fixed, train_objective
from bench.nab_scoring import STANDARD, LabelledSeries

ONE = LabelledSeries("one", n_rows=200, windows=((100, 119),))
TWO = LabelledSeries("two", n_rows=400, windows=((100, 139), (250, 269)))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_curve_is_the_score_at_each_threshold(seed: int) -> None:
    """One sweep gives what scoring the files at each threshold separately gives."""
    rng = np.random.default_rng(seed)
    scores = (rng.random(200) ** 3, rng.random(400) ** 3)
    p = Part((ONE, TWO), scores)
    curve = fixed_curve(p)
    for k in range(0, THRESHOLDS.size, 17):
        assert math.isclose(curve[k], p.at(float(THRESHOLDS[k]), STANDARD), abs_tol=1e-9)


def _comps(a: np.ndarray, b: np.ndarray) -> dict:
    return {("x", None): (float(np.max(a)), a), ("y", None): (float(np.max(b)), b)}


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_fixed_objective_is_the_best_mean_at_one_threshold() -> None:
    """Swept: each dataset at its own best; fixed: both at the one best shared threshold."""
    a = np.zeros(THRESHOLDS.size)
    b = np.zeros(THRESHOLDS.size)
    a[10], b[200] = 90.0, 80.0  # each dataset's best is at its own threshold
    a[100], b[100] = 60.0, 60.0  # the best shared one
    datasets = [_Named("x"), _Named("y")]
    everything = Fold("all", "", "")
    swept, _ = train_objective(datasets, _comps(a, b), everything)
    fixed, threshold = train_objective(datasets, _comps(a, b), everything, fixed=True)
    assert swept == 85.0
    assert fixed == 60.0
    assert threshold == THRESHOLDS[100]
    # Holding a dataset out leaves the other's own best threshold.
    assert train_objective(datasets, _comps(a, b), Fold("d", "y", None), fixed=True) == (
        90.0, THRESHOLDS[10])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_the_swept_score_is_the_parts_best(seed: int) -> None:
    """The swept figure from the shared sweep is ``Part.best``'s."""
    rng = np.random.default_rng(seed)
    p = Part((ONE, TWO), (rng.random(200) ** 3, rng.random(400) ** 3))
    assert math.isclose(swept_and_fixed(p)[0], p.best(STANDARD)[0], abs_tol=1e-9)
