"""QuantileSketch: quantiles within the stated relative error; merging is exact."""

import math
import pickle

import numpy as np
import pytest
from alertflow.operators.quantile_sketch import QuantileSketch, SketchError
from hypothesis import given, settings
from hypothesis import strategies as st

latencies = st.lists(
    st.floats(min_value=1e-5, max_value=3600.0, allow_nan=False), min_size=1, max_size=300
)
quantiles = st.floats(min_value=0.0, max_value=1.0)


def _sketch(values, alpha=0.01, max_buckets=2048):
    s = QuantileSketch(alpha=alpha, max_buckets=max_buckets)
    for v in values:
        s.add(v)
    return s


@pytest.mark.parametrize(
    ("values", "q", "exact"),
    [
        ([0.2], 0.5, 0.2),
        ([0.001, 0.002, 0.003], 0.0, 0.001),
        ([0.001, 0.002, 0.003], 1.0, 0.003),
        ([0.001, 0.002, 0.003], 0.5, 0.002),
        (list(range(1, 101)), 0.99, 99.0),
        ([5.0] * 10 + [500.0], 0.99, 5.0),  # rank floor(0.99 * 10) = 9: the last 5.0
        ([5.0] * 10 + [500.0], 1.0, 500.0),
    ],
)
def test_quantile_table(values, q, exact):
    assert math.isclose(_sketch(values).quantile(q), exact, rel_tol=0.01)


@pytest.mark.parametrize(
    ("values", "q", "expected"), [([], 0.5, math.nan), ([0.0, -1.0], 0.5, 0.0)]
)
def test_empty_and_non_positive(values, q, expected):
    got = _sketch(values).quantile(q)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


@settings(max_examples=200, deadline=None)
@given(latencies, quantiles, st.sampled_from([0.005, 0.01, 0.05]))
def test_quantile_within_relative_error_of_numpy(values, q, alpha):
    # numpy's "lower" rank, computed the sketch's way: numpy goes through q * 100 and can
    # land one rank lower in floating point (q = 1/3 of four values).
    rank = math.floor(q * (len(values) - 1))
    exact = sorted(values)[rank]
    lower = float(np.percentile(np.array(values), q * 100, method="lower"))
    assert lower in (exact, sorted(values)[max(rank - 1, 0)])
    got = _sketch(values, alpha).quantile(q)
    assert abs(got - sorted(values)[rank]) <= alpha * sorted(values)[rank] * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(latencies, latencies, latencies)
def test_merge_is_associative_commutative_and_exact(a, b, c):
    left = _sketch(a)
    left.merge(_sketch(b))
    left.merge(_sketch(c))
    bc = _sketch(b)
    bc.merge(_sketch(c))
    right = _sketch(a)
    right.merge(bc)
    swapped = _sketch(c)
    swapped.merge(_sketch(a))
    swapped.merge(_sketch(b))
    assert left == right == swapped == _sketch(a + b + c)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=1e-5, max_value=1e6), min_size=50, max_size=400))
def test_bounded_buckets_keep_the_high_quantiles(values):
    s = _sketch(values, max_buckets=16)
    assert len(s.buckets) <= 16
    rank = math.floor(0.99 * (len(values) - 1))
    top = sorted(values)[rank]
    # Collapsing folds only the lowest buckets: a quantile above them keeps its accuracy.
    lowest_kept = 2 * s.gamma ** min(s.buckets) / (s.gamma + 1)
    if top > lowest_kept * s.gamma:
        assert abs(s.quantile(0.99) - top) <= 0.01 * top * (1 + 1e-9)


def test_pickles_and_refuses_mismatched_merge():
    s = _sketch([0.1, 0.2, 0.3])
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(SketchError):
        s.merge(QuantileSketch(alpha=0.02))
    with pytest.raises(SketchError):
        QuantileSketch(alpha=1.5)
