"""The one place that turns detector settings into a detector, for the flow and ``detect`` alike."""

from collections.abc import Callable
from functools import partial

from operators.anomaly.base import AnomalyDetector
from operators.anomaly.robust_ewma import RobustEWMA
from schemas.config import DetectorSettings


def detector_factory(settings: DetectorSettings) -> Callable[[], AnomalyDetector]:
    """A zero-argument constructor of the configured per-series detector."""
    return partial(
        RobustEWMA,
        alpha=settings.alpha,
        warmup=settings.warmup,
        z_threshold=settings.z_threshold,
        clip=settings.clip,
    )
