"""The one place that turns detector settings into a detector, for the flow and ``detect`` alike."""

from collections.abc import Callable
from functools import partial

from alertflow.operators.anomaly.ensemble import StreamingEnsemble
from alertflow.schemas.config import DetectorSettings


def detector_factory(settings: DetectorSettings) -> Callable[[], StreamingEnsemble]:
    """A zero-argument constructor of the configured per-series detector.

    >>> make = detector_factory(DetectorSettings(warmup=200))
    >>> make().warmup, make() is make()
    (200, False)
    """
    return partial(StreamingEnsemble, **settings.model_dump())

