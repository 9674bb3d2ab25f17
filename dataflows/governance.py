"""The last steps before the sinks: output redaction and the audit chain."""

import copy
from functools import partial

import bytewax.operators as op
from alertflow.operators.decisions import Decision
from alertflow.operators.delivery.audit import AUDITED, AuditChain, partition_of
from alertflow.operators.delivery.output_redaction import OutputRedactor
from alertflow.operators.restorable import upgrade
from alertflow.schemas.config import AlertflowConfig
from bytewax.dataflow import Stream
from bytewax.operators import StatefulBatchLogic


def redact(decisions: Stream[list], config: AlertflowConfig) -> Stream[list]:
    """Scrub every record's text with the redaction rules, if configured."""
    if not config.governance.redact_outputs:
        return decisions
    return op.map("redact", decisions, OutputRedactor(config.redaction).redact_all)


def audit(decisions: Stream[list], config: AlertflowConfig) -> Stream[list]:
    """``decisions`` plus one hash-chained audit record for each decision, if configured."""
    if not config.governance.audit.enabled:
        return decisions
    by_chain = partial(by_partition, shards=config.scoring.shards)
    keyed = op.flat_map("audit_partition", decisions, by_chain)
    # (partition, (partition, list[Decision])): the logic is not told its key
    chained = op.stateful_batch("audit", keyed, AuditLogic)
    records = op.key_rm("unkey_audit", chained)  # list[Decision(audit)]
    return op.merge("audited", decisions, records)


def by_partition(
    decisions: list[Decision], shards: int
) -> list[tuple[str, tuple[str, list[Decision]]]]:
    """The audited decisions of a batch grouped by chain, each group in arrival order."""
    groups: dict[str, list[Decision]] = {}
    for decision in decisions:
        if decision.stream in AUDITED:
            groups.setdefault(partition_of(decision, shards), []).append(decision)
    return [(partition, (partition, group)) for partition, group in groups.items()]


class AuditLogic(StatefulBatchLogic[tuple, list[Decision], AuditChain]):
    """One chain: its records in the order its decisions came."""

    def __init__(self, chain: AuditChain | None) -> None:
        self.chain = chain and upgrade(chain, AuditChain(chain.partition))

    def on_batch(
        self, values: list[tuple[str, list[Decision]]]
    ) -> tuple[list[list[Decision]], bool]:
        """Chain each decision of the batch."""
        out = []
        for partition, decisions in values:
            if self.chain is None:
                self.chain = AuditChain(partition)
            out.extend(self.chain.append(d) for d in decisions)
        return [out] if out else [], False

    def snapshot(self) -> AuditChain:
        """A copy (two small fields) for the recovery store."""
        return copy.copy(self.chain)  # type: ignore[return-value]
