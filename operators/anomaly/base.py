"""The shape every per-series detector has: ``score_one`` then ``learn_one``."""

import abc
from dataclasses import dataclass

from alertflow.schemas.errors import AlertflowError


class DetectorError(AlertflowError, ValueError):
    """A detector was given settings or input it cannot use."""


@dataclass(slots=True)  # not frozen: frozen init costs ~2x, once per sample
class Expectation:
    """What a detector expected a value to be, and the band it considers normal."""

    expected: float
    lower: float
    upper: float


class AnomalyDetector(abc.ABC):
    """An online detector for one series.

    Settings are constructor arguments stored under the same names; learned
    state is created on the first sample, so a fresh detector is cheap.
    """

    name: str = "detector"

    @abc.abstractmethod
    def score_one(self, value: float, ts_ns: int) -> float:
        """Score ``value`` in [0, 1] without learning it."""

    @abc.abstractmethod
    def learn_one(self, value: float, ts_ns: int) -> None:
        """Update the model with ``value``."""

    @abc.abstractmethod
    def expectation(self) -> Expectation | None:
        """The current expected value and normal band, or None while warming up."""

    @property
    @abc.abstractmethod
    def warmed_up(self) -> bool:
        """Whether the detector has seen enough to give scores."""
