"""Univariate streaming anomaly detectors, one per file, behind :class:`AnomalyDetector`.

Every detector scores a value *before* learning it (``score_one`` then ``learn_one``, or
``update`` for both in one call, or ``update_many`` over arrays), so a score never
reflects the point it judges. Scores lie in [0, 1]: 0 is ordinary and during warm-up,
higher is more unusual. The forecasters, the range detector and the CUSUM put their own
alarm line at 0.5. The likelihood, the suppression and the ensemble that ``alertflow``
runs (:class:`StreamingEnsemble`) map evidence ``E`` in log10 units to
``1 - exp(-E / out_scale)``. The ensemble counts rarity per hour of the series' sampling
(not per sample), so its threshold of 0.21 (E ≈ 2.9) means the same on per-minute, 5-minute
and hourly series; ``bench/nab_cv.py`` chooses its defaults by cross-validation.

The per-sample work is a numba kernel over a flat float64 state array
(:mod:`operators.anomaly.compiled` says why and what it costs).
"""

from alertflow.operators.anomaly.base import AnomalyDetector, DetectorError, Expectation
from alertflow.operators.anomaly.compiled import CompiledDetector
from alertflow.operators.anomaly.distribution import LongRunDistribution
from alertflow.operators.anomaly.ensemble import StreamingEnsemble
from alertflow.operators.anomaly.holt import HoltForecaster
from alertflow.operators.anomaly.level_shift import LevelShift
from alertflow.operators.anomaly.likelihood import AnomalyLikelihood
from alertflow.operators.anomaly.range_detector import RangeDetector
from alertflow.operators.anomaly.robust_ewma import RobustEWMA
from alertflow.operators.anomaly.seasonal import DailyProfile
from alertflow.operators.anomaly.suppression import PostDetectionSuppression

__all__ = [
    "AnomalyDetector",
    "AnomalyLikelihood",
    "CompiledDetector",
    "DailyProfile",
    "DetectorError",
    "Expectation",
    "HoltForecaster",
    "LevelShift",
    "LongRunDistribution",
    "PostDetectionSuppression",
    "RangeDetector",
    "RobustEWMA",
    "StreamingEnsemble",
]
