"""The redaction rules applied to every output record, not only to dead letters.

Labels, series keys, annotations, summaries, evidence and log messages are text a
record carries from its inputs; each string value is scrubbed by the same
:class:`~alertflow.operators.redaction.Redactor` the dead letters use. Ids are
hashes and are left alone. A record that needed no change keeps its object; one that
did is replaced by a plain :class:`Record` of its redacted fields.
"""

from functools import lru_cache
from typing import Any

from alertflow.operators.decisions import Decision, Record
from alertflow.operators.redaction import Redactor
from alertflow.schemas.config import RedactionConfig

# Hashes and references: never personal data, and a changed id would break dedup.
_KEEP = frozenset({"id", "incident_id", "record_id", "hash", "prev", "fingerprint"})
_CACHED = 65_536  # label values repeat sample after sample: scrub each once


class OutputRedactor:
    """Scrubs the string values of output records with the configured rules.

    >>> from alertflow.schemas.config import RedactionConfig
    >>> r = OutputRedactor(RedactionConfig())
    >>> d = Decision("anomalies", "k", {"id": "ab", "labels": {"pod": "bob@example.org"}})
    >>> r.redact_all([d])[0].record
    {'id': 'ab', 'labels': {'pod': '[REDACTED:email]'}}
    """

    def __init__(self, config: RedactionConfig) -> None:
        self.text = lru_cache(maxsize=_CACHED)(Redactor(config).redact_text)

    def redact_all(self, decisions: list[Decision]) -> list[Decision]:
        """``decisions`` with every record scrubbed; dead letters were scrubbed at intake."""
        for decision in decisions:
            if decision.stream != "dlq":
                self.redact(decision)
        return decisions

    def redact(self, decision: Decision) -> None:
        """Scrub one decision's record in place (replacing it only if something changed)."""
        record = decision.record
        fields = record if isinstance(record, dict) else record.model_dump(mode="json")
        scrubbed = self._value(fields)
        if scrubbed is not fields:
            decision.record = Record(scrubbed)

    def _value(self, value: Any) -> Any:
        """``value`` scrubbed; the same object when nothing in it changed."""
        if isinstance(value, str):
            scrubbed = self.text(value)
            return value if scrubbed == value else scrubbed
        if isinstance(value, dict):
            out = {k: v if k in _KEEP else self._value(v) for k, v in value.items()}
            changed = any(out[k] is not v for k, v in value.items())
            return out if changed else value
        if isinstance(value, list):
            items = [self._value(v) for v in value]
            changed = any(a is not b for a, b in zip(items, value, strict=True))
            return items if changed else value
        return value
