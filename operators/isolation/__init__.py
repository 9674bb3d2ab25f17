"""Isolation-forest detectors: a streaming forest and the per-series detector built on it.

Scores are in [0, 1], higher is more anomalous: ``2 ** (-E[h] / c(ψ))`` from Liu, Ting & Zhou
(2008), where ``h`` is how many random splits isolate the point. Around 0.5 or below is
ordinary; a point isolated in a few splits scores towards 1. 0.0 while warming up; NaN for a
non-finite input, which is never learned.
"""

from alertflow.operators.isolation.errors import IsolationError
from alertflow.operators.isolation.forest import IsolationForest
from alertflow.operators.isolation.scaling import RobustScaler
from alertflow.operators.isolation.window import IsolationWindowDetector

__all__ = ["IsolationError", "IsolationForest", "IsolationWindowDetector", "RobustScaler"]
