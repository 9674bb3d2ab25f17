"""Univariate streaming anomaly detectors.

Every detector scores a value *before* learning it (``score_one`` then
``learn_one``), so a score never reflects the point it judges. Scores lie in
[0, 1]: 0 is ordinary, 0.5 is the detector's own alarm line, 1 is as unusual
as it can say. During warm-up a detector scores 0.
"""

from operators.anomaly.base import AnomalyDetector, Expectation
from operators.anomaly.robust_ewma import RobustEWMA

__all__ = ["AnomalyDetector", "Expectation", "RobustEWMA"]
