"""The flow's estate digest step: domains' noise digests folded into one per window.

With ``correlation.noise_digest_scope`` "estate", the noise digest versions every domain's
grouper emits come here (one key: they are a few per domain and interval) and leave as the
estate's digest (``operators.correlation.estate_digest``); every other decision passes by.
"""

import copy

from alertflow.operators.correlation.estate_digest import EstateDigests
from alertflow.operators.decisions import Decision
from alertflow.operators.restorable import resumed
from alertflow.schemas.config import CorrelationConfig
from bytewax.operators import StatefulBatchLogic


def apart(batch: list[Decision]) -> list[list[Decision]]:
    """A batch of decisions as (at most) two: the noise digests', and the rest."""
    digests = [d for d in batch if is_digest(d)]
    if not digests:
        return [batch]
    rest = [d for d in batch if not is_digest(d)]
    return [digests, rest] if rest else [digests]


def is_digest(decision: Decision) -> bool:
    """A domain's noise digest version (an incidents record of kind noise)."""
    return decision.stream == "incidents" and decision.field("kind") == "noise"


def digests_only(batch: list[Decision]) -> bool:
    """Whether :func:`apart` made this batch of digests."""
    return bool(batch) and is_digest(batch[0])


class EstateDigestLogic(StatefulBatchLogic[list, list[Decision], EstateDigests]):
    """Folds each domain digest version into the estate's, which replaces it."""

    def __init__(self, state: EstateDigests | None, config: CorrelationConfig) -> None:
        self.state = resumed(state, EstateDigests(config.noise_window_s, config.max_members))

    def on_batch(self, values: list[list[Decision]]) -> tuple[list[list[Decision]], bool]:
        """Every digest version in, the estate digest's versions out (one each)."""
        out = []
        for batch in values:
            folded = []
            for d in batch:
                record = self.state.fold(d.record)
                key = record["incident_id"]
                folded.append(Decision("incidents", key, record, d.inputs, d.read_ns))
            out.append(folded)
        return out, False

    def snapshot(self) -> EstateDigests:
        """A deep copy: the windows' parts and counts survive a restart."""
        return copy.deepcopy(self.state)
