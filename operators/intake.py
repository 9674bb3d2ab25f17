"""Where data enters: raw messages become canonical records or dead letters.

A raw message is anything answering ``value()``, ``topic()``, ``partition()``,
``offset()`` and ``error()`` like ``confluent_kafka.Message``: a Kafka message,
or a line of a JSONL file. Messages carrying a consumer error become dead
letters too. One bad message never costs the good ones around it.
"""

import base64
import time
from collections.abc import Iterable
from typing import Any

from alertflow.operators.decisions import Decision
from alertflow.operators.ids import stable_id
from alertflow.operators.redaction import Redactor
from alertflow.schemas.config import RedactionConfig
from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.jsoncodec import JSONDecodeError, parse
from alertflow.schemas.outputs import DeadLetter
from alertflow.schemas.prometheus import well_formed_sample
from alertflow.schemas.records import InputRecord


def message_ref(topic: str | None, partition: int | None, offset: int | None) -> str:
    """A short, unique pointer to a message: ``topic/partition@offset`` or ``file:line``.

    >>> message_ref("metrics", 0, 42), message_ref("in/metrics.jsonl", None, 7)
    ('metrics/0@42', 'in/metrics.jsonl:7')
    """
    return f"{ref_prefix(topic, partition)}{offset}"


def ref_prefix(topic: str | None, partition: int | None) -> str:
    """What every ref of one partition (or file) starts with."""
    if partition is None:
        return f"{topic}:"
    return f"{topic}/{partition}@"


def parse_ref(ref: str) -> tuple[str, int | None, int | None]:
    """Split a ref made by :func:`message_ref` back into topic, partition and offset.

    >>> parse_ref("metrics/0@42"), parse_ref("in/metrics.jsonl:7")
    (('metrics', 0, 42), ('in/metrics.jsonl', None, 7))
    """
    head, at, offset = ref.rpartition("@")
    if at and offset.lstrip("-").isdigit():
        topic, _, partition = head.rpartition("/")
        if partition.isdigit():
            return topic, int(partition), int(offset)
    topic, colon, line = ref.rpartition(":")
    if colon and line.isdigit():
        return topic, None, int(line)
    return ref, None, None


_DEFAULT_REDACTOR = Redactor(RedactionConfig())


def dead_letter(
    stream: str,
    topic: str | None,
    partition: int | None,
    offset: int | None,
    raw: bytes | None,
    reason: str,
    redactor: Redactor = _DEFAULT_REDACTOR,
) -> Decision:
    """A ``dlq`` decision for one rejected message: its bytes capped and redacted, never raw."""
    body = raw or b""
    kept = redactor.capped(body)
    reason = redactor.redact_text(reason)
    source = topic or "unknown"
    record = DeadLetter(
        id=stable_id(stream, source, partition, offset, reason),
        stream=stream,
        source=source,
        partition=partition,
        offset=-1 if offset is None else offset,
        reason=reason,
        raw_b64=base64.b64encode(kept).decode("ascii"),
        raw_text=_text(kept, complete=len(kept) == len(body)),
        raw_size=len(body),
    )
    # A partition's dead letters come from its reader's decode step, in the partition's
    # order: one audit chain each (a topic's partitions may be read in several processes).
    chain = None if partition is None else f"dlq/{source}/{partition}"
    return Decision("dlq", source, record, (message_ref(source, partition, offset),), chain=chain)


def _text(kept: bytes, complete: bool) -> str | None:
    """The kept bytes as text if the message was UTF-8; a character cut by the cap is dropped."""
    try:
        return kept.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not complete and exc.reason == "unexpected end of data":
            return kept[: exc.start].decode("utf-8")
        return None


# The records that carry a read time, for in-job latency.
_STAMPED_STREAMS = ("metrics", "alerts")


class Intake:
    """Decodes one input stream's raw messages, a poll's batch at a time."""

    def __init__(
        self,
        stream: str,
        redactor: Redactor = _DEFAULT_REDACTOR,
        max_message_bytes: int = 1 << 20,
    ) -> None:
        self.stream = stream
        self.redactor = redactor
        self.max_message_bytes = max_message_bytes

    def decode_batch(self, polls: Iterable[list]) -> list[list[InputRecord] | list[Decision]]:
        """Decode polls of messages into one list of records and one of ``dlq`` decisions.

        Either list is left out when empty. Two items per call instead of one per
        message keeps the engine's per-item cost off the hot path.
        """
        read_ns = time.time_ns()
        records: list[InputRecord] = []
        dead: list[Decision] = []
        stamped = self.stream in _STAMPED_STREAMS
        for poll in polls:
            if not poll:
                continue
            # Both sources poll one partition (or one file) at a time: one ref prefix a poll.
            prefix = ref_prefix(poll[0].topic(), poll[0].partition())
            # A gathered poll carries its first message's read time (dataflows.kafka_io.Poll).
            read = getattr(poll, "read_ns", read_ns) if stamped else None
            if self.stream == "metrics":
                self._decode_metrics(poll, prefix, read, records, dead)
                continue
            for message in poll:
                self._decode(message, prefix, read, records, dead)
        return [batch for batch in (records, dead) if batch]

    def _decode_metrics(
        self, poll: list, prefix: str, read_ns: int, records: list, dead: list[Decision]
    ) -> None:
        """A poll of metrics: the adapter's usual message read inline, any other the long way.

        The inline path is :func:`decode_metrics`' first branch without its calls (~5 per
        sample); whatever it does not take, or raises on, goes through :meth:`_decode`,
        which reads the bytes afresh and gives the same record or dead letter.
        """
        limit = self.max_message_bytes
        loads = parse
        append = records.append
        for message in poll:
            value = message.value()
            if message.error() is None and value and len(value) <= limit:
                try:
                    doc = loads(value)
                    sample = well_formed_sample(doc, f"{prefix}{message.offset()}")
                except (JSONDecodeError, DecodeError, RecursionError):
                    sample = None
                if sample is not None:
                    sample.read_ns = read_ns
                    append(sample)
                    continue
            self._decode(message, prefix, read_ns, records, dead)

    def _decode(
        self,
        message: Any,
        prefix: str,
        read_ns: int | None,
        records: list[InputRecord],
        dead: list[Decision],
    ) -> None:
        """Decode one message into ``records``, or its dead letter into ``dead``."""
        err = message.error()
        if err is not None:
            dead.append(self._reject(message, f"consumer error: {err}"))
            return
        value = message.value()
        if value is not None and len(value) > self.max_message_bytes:
            dead.append(self._reject(message, self._too_large(len(value))))
            return
        try:
            decoded = decode_stream(self.stream, value, f"{prefix}{message.offset()}")
        except DecodeError as exc:
            dead.append(self._reject(message, exc.reason))
            return
        except RecursionError:
            dead.append(self._reject(message, "JSON nested too deeply"))
            return
        if read_ns is not None:
            for record in decoded:
                record.read_ns = read_ns
        records.extend(decoded)

    def _too_large(self, size: int) -> str:
        limit = self.max_message_bytes
        return f"message of {size} bytes is larger than intake.max_message_bytes ({limit})"

    def _reject(self, message: Any, reason: str) -> Decision:
        return dead_letter(
            self.stream,
            message.topic(),
            message.partition(),
            message.offset(),
            message.value(),
            reason,
            self.redactor,
        )
