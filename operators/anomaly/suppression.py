"""Threshold-free post-detection suppression: one event, one alarm."""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import (
    HEADER,
    CompiledDetector,
    N,
    clip_value,
    evidence_score,
    kernel,
    no_report,
    positive,
    require,
)

# The suppressor's one slot, relative to its segment of a state array.
SUP = 0
SUPPRESSION_SIZE = 1
# Two channels suppressed side by side (see suppress_pair): one level each.
LIK_SUP, RANGE_SUP = 0, 1
PAIR_SIZE = 2


@kernel
def suppress(
    sup: np.ndarray, evidence: float, margin: float, mult: float, damp: float, decay: float,
) -> float:
    """Pass ``evidence`` if it clears the suppression level by ``margin``, else damp it."""
    if evidence > sup[SUP] + margin:
        sup[SUP] = mult * evidence
    else:
        evidence *= damp
    sup[SUP] *= decay
    return evidence


@kernel
def suppress_pair(
    sup: np.ndarray, e_lik: float, e_range: float, margin: float, mult: float, damp: float,
    decay: float, cross: float,
) -> float:
    """``suppress`` for the likelihood and range channels, each with its own level.

    A range detection holds the likelihood back at only ``cross`` of its level: the range
    says a value is new, not how unusual the recent average is, so a later rise in the
    average is a separate event. A likelihood detection holds the range back in full.
    Returns the larger of the two evidences after suppression.
    """
    lik_level = max(sup[LIK_SUP], cross * sup[RANGE_SUP])
    range_level = max(sup[RANGE_SUP], sup[LIK_SUP])
    if e_lik > lik_level + margin:
        sup[LIK_SUP] = mult * e_lik
    else:
        e_lik *= damp
    if e_range > range_level + margin:
        sup[RANGE_SUP] = mult * e_range
    else:
        e_range *= damp
    sup[LIK_SUP] *= decay
    sup[RANGE_SUP] *= decay
    return max(e_lik, e_range)


_SUP = HEADER
_SIZE = _SUP + SUPPRESSION_SIZE
_MARGIN, _MULT, _DAMP, _DECAY, _OUT = range(5)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    evidence = max(clip_value(x), 0.0)
    state[N] += 1
    passed = suppress(state[_SUP:_SIZE], evidence, p[_MARGIN], p[_MULT], p[_DAMP], p[_DECAY])
    return no_report(state, evidence_score(passed, p[_OUT]))


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class PostDetectionSuppression(CompiledDetector):
    """Passes evidence only when it clearly exceeds the last detection's, then decays.

    Feed it evidence (log10 units, e.g. a likelihood's). Evidence above the suppression
    level by ``sup_margin`` passes and sets the level to ``sup_mult`` times itself;
    anything else is multiplied by ``sup_damp``. The level decays with time constant
    ``sup_tau`` samples. Whatever threshold is applied downstream, a rising run or a
    cluster after a detection then yields one or a few alarms, while a clearly larger
    event still gets through. No threshold is built in, and there is no warm-up.
    Score: ``1 - exp(-E / out_scale)`` of the evidence let through.

    >>> det = PostDetectionSuppression()
    >>> [round(det.update(e, i), 3) for i, e in enumerate([6.0, 6.5, 7.0, 20.0])]
    [0.393, 0.053, 0.057, 0.811]
    """

    name = "suppression"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(
        self,
        sup_tau: float = 200.0,
        sup_margin: float = 1.0,
        sup_mult: float = 1.5,
        sup_damp: float = 0.1,
        out_scale: float = 12.0,
    ) -> None:
        self.sup_tau = sup_tau
        self.sup_margin = sup_margin
        self.sup_mult = sup_mult
        self.sup_damp = sup_damp
        self.out_scale = out_scale
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(self.sup_margin >= 0, "sup_margin", "a margin >= 0", self.sup_margin)
        require(self.sup_mult >= 0, "sup_mult", "a multiplier >= 0", self.sup_mult)
        require(0 <= self.sup_damp <= 1, "sup_damp", "a multiplier in [0, 1]", self.sup_damp)
        decay = math.exp(-1.0 / positive("sup_tau", self.sup_tau))
        return np.array([self.sup_margin, self.sup_mult, self.sup_damp, decay,
                         positive("out_scale", self.out_scale)])

    def _state_size(self) -> int:
        return _SIZE
