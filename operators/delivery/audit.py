"""The audit chain: one record per decision, each carrying the hash of the one before it.

Chains are per partition, and a partition is fed by one upstream key in a fixed
order (the anomalies and late samples of one scoring state key, one incident's
versions and notifications, one input partition's or file's dead letters), so a
replay after a crash re-emits the same records with the same hashes: at-least-once
copies are byte-identical and a verifier tells them from tampering. A record's
``hash`` is SHA-256 over its other fields (sorted-key JSON), ``prev`` included, so
editing, dropping or reordering a record breaks the next link.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from alertflow.operators.decisions import Decision, Record
from alertflow.operators.ids import stable_id
from alertflow.operators.normalize import shard_of
from alertflow.schemas.jsoncodec import canonical

AUDITED = ("anomalies", "incidents", "notifications", "predictions", "dlq")
GENESIS = "0" * 64


def partition_of(decision: Decision, shards: int) -> str:
    """The chain a decision joins: the upstream key whose output order is fixed.

    A scoring or forecasting step names it on the decision (``chain``): its state key,
    which is the series' shard (``s<n>``), or with ``kafka.series_partitioned`` one per
    input partition and shard (``dataflows.routing``), possibly in another process than
    the same shard of the other partitions. The series' shard is the chain only of
    decisions that name none.

    >>> anomaly = Decision("anomalies", 'up{job="api"}', {})
    >>> partition_of(anomaly, 64)
    'scoring/s28'
    >>> anomaly.chain = "scoring/metrics/1.s28~00a1"
    >>> partition_of(anomaly, 64)
    'scoring/metrics/1.s28~00a1'
    """
    if decision.chain is not None:
        return decision.chain
    if decision.stream == "anomalies":
        return f"scoring/{shard_of(decision.key, shards)}"  # the shard that scored the series
    if decision.stream == "predictions":
        return f"prediction/{shard_of(decision.key, shards)}"  # the shard that forecast it
    if decision.stream in ("incidents", "notifications"):
        return f"incident/{decision.key}"
    return f"{decision.stream}/{decision.key}"


def record_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of ``fields`` without ``hash``, as sorted-key JSON."""
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass
class AuditChain:
    """One partition's chain: how many records it has and the last one's hash."""

    partition: str
    seq: int = 0
    last_hash: str = GENESIS

    def append(self, decision: Decision) -> Decision:
        """The audit record of ``decision``, linked to the previous one."""
        self.seq += 1
        record_id = str(decision.field("id"))
        fields: dict[str, Any] = {
            "id": stable_id("audit", self.partition, self.seq),
            "partition": self.partition,
            "seq": self.seq,
            "prev": self.last_hash,
            "stream": decision.stream,
            "record_id": record_id,
            "record_sha256": hashlib.sha256(decision.encode()).hexdigest(),
            "inputs": list(decision.inputs),
        }
        fields["hash"] = self.last_hash = record_hash(fields)
        return Decision("audit", self.partition, Record(fields), decision.inputs, decision.read_ns)


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain: where and why."""

    position: int  # 1-based, in the order the records were read
    partition: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return (
            f"record {self.position} (partition {self.partition!r}, seq {self.seq}): {self.reason}"
        )


def verify(records: Iterable[dict[str, Any]]) -> tuple[int, Break | None]:
    """Check every link; how many records were read, and the first break if any.

    A record whose ``seq`` was seen before must be an identical copy (a replay after a
    crash); a new one must be the next ``seq`` and name the previous record's hash.
    """
    hashes: dict[str, list[str]] = {}
    count = 0
    for count, record in enumerate(records, 1):
        problem = _check(record, hashes)
        if problem is not None:
            return count, Break(
                count, str(record.get("partition")), _int(record.get("seq")), problem
            )
    return count, None


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


def _check(record: dict[str, Any], hashes: dict[str, list[str]]) -> str | None:
    partition, seq = record.get("partition"), record.get("seq")
    if not isinstance(partition, str) or not isinstance(seq, int) or seq < 1:
        return "not an audit record (no partition or seq)"
    if record.get("hash") != record_hash(record):
        return "its hash does not match its contents (edited)"
    chain = hashes.setdefault(partition, [])
    if seq <= len(chain):
        if chain[seq - 1] != record["hash"]:
            return f"differs from the earlier record with seq {seq} (replaced)"
        return None
    if seq > len(chain) + 1:
        return f"seq {len(chain) + 1} is missing (removed)"
    if record.get("prev") != (chain[-1] if chain else GENESIS):
        return "prev is not the hash of the record before it (reordered or removed)"
    chain.append(record["hash"])
    return None
