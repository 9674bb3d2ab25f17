"""The redaction rules applied to every output record, not only to dead letters.

Labels, series keys, annotations, summaries, evidence and log messages are text a
record carries from its inputs; each string value is scrubbed by the same
:class:`~alertflow.operators.redaction.Redactor` the dead letters use, except that an
IP address inside an identifier (a value without whitespace: ``instance`` labels,
series keys, service names) is kept unless ``redaction.ips_in_identifiers`` is off:
infrastructure telemetry names machines by address, and an anomaly on
``[REDACTED:ip]:9100`` cannot be acted on. Ids are hashes and are left alone. A record
that needed no change keeps its object; one that did is replaced by a plain
:class:`Record` of its redacted fields.
"""

import re
from collections.abc import Callable
from typing import Any

from alertflow.operators.decisions import Decision, Record
from alertflow.operators.redaction import Redactor
from alertflow.operators.score_block import ScoreBlock
from alertflow.schemas.config import RedactionConfig

# Hashes and references: never personal data, and a changed id would break dedup.
_KEEP = frozenset({"id", "incident_id", "record_id", "hash", "prev", "fingerprint"})
_CACHED = 65_536  # label values repeat sample after sample: scrub each once
_UNSEEN = object()
_SPACE = re.compile(r"\s")


class OutputRedactor:
    """Scrubs the string values of output records with the configured rules.

    Every sample's ``scores`` record passes here, so records are walked without a call
    per field: text and flat label maps are looked up in caches of what they became
    (the same strings and label sets recur sample after sample).

    >>> from alertflow.schemas.config import RedactionConfig
    >>> r = OutputRedactor(RedactionConfig())
    >>> d = Decision("anomalies", "k", {"id": "ab", "labels": {"pod": "bob@example.org"}})
    >>> r.redact_all([d])[0].record
    {'id': 'ab', 'labels': {'pod': '[REDACTED:email]'}}
    """

    def __init__(self, config: RedactionConfig) -> None:
        self.text = self._rules(config)  # uncached: ``_texts`` remembers what it returned
        self._texts: dict[str, str | None] = {}  # text -> scrubbed, None when unchanged
        self._clean: set[tuple] = set()  # items of flat maps that needed no change
        self._block_series: dict[str, tuple[str, dict]] = {}  # series -> clean name, labels
        self._tails: dict[Any, bool] = {}  # a block's (*detectors, severity) -> clean

    @staticmethod
    def _rules(config: RedactionConfig) -> Callable[[str], str]:
        """Text -> scrubbed text: identifiers keep their IP addresses if configured so."""
        prose = Redactor(config).redact_text
        if not (config.ip_addresses and config.ips_in_identifiers):
            return prose
        names = Redactor(config.model_copy(update={"ip_addresses": False})).redact_text
        return lambda text: prose(text) if _SPACE.search(text) else names(text)

    def redact_all(self, decisions: list) -> list:
        """``decisions`` with every record scrubbed; dead letters were scrubbed at intake.

        A :class:`ScoreBlock` none of whose records would change stays a block; one
        that has a record to change becomes its decisions, each scrubbed as any other.
        """
        blocks = False
        for decision in decisions:
            if type(decision) is ScoreBlock:
                blocks = True
            elif decision.stream != "dlq":
                self.redact(decision)
        if not blocks:
            return decisions
        out: list = []
        for item in decisions:
            if type(item) is not ScoreBlock or self._clean_block(item):
                out.append(item)
                continue
            for decision in item.decisions():
                self.redact(decision)
                out.append(decision)
        return out

    def _clean_block(self, block: ScoreBlock) -> bool:
        """True when none of the block's records needs a change (texts scrubbed once each)."""
        texts = self._texts
        for stamp in block.timestamps():
            verdict = texts.get(stamp, _UNSEEN)
            if verdict is _UNSEEN:
                verdict = self._scrub(stamp)
            if verdict is not None:
                return False
        series = self._block_series
        tails = self._tails
        for _, key, sample, _, _, _, _, detectors, severity in block.rows:
            cached = series.get(key)
            known = cached is not None and cached[0] == sample.name and cached[1] == sample.labels
            if not (known or self._clean_series(key, sample.name, sample.labels)):
                return False
            tail = tails.get((*detectors, severity) if detectors else severity)
            if tail is None:
                tail = self._clean_tail(detectors, severity)
            if not tail:
                return False
        return True

    def _clean_series(self, key: str, name: str, labels: dict) -> bool:
        """Whether a series' key, name and labels need no change; a clean one is remembered."""
        for text in (key, name):
            if type(text) is not str or self._str(text) is not text:
                return False
        if type(labels) is not dict or self._map(labels) is not labels:
            return False
        if all(type(v) is str for v in labels.values()):  # flat: the copy cannot go stale
            if len(self._block_series) >= _CACHED:
                self._block_series.clear()
            self._block_series[key] = (name, dict(labels))
        return True

    def _clean_tail(self, detectors: list[str], severity: str) -> bool:
        clean = all(type(t) is str and self._str(t) is t for t in (*detectors, severity))
        if len(self._tails) >= _CACHED:
            self._tails.clear()
        # No detectors (most records): keyed by the severity alone, a tuple not built.
        self._tails[(*detectors, severity) if detectors else severity] = clean
        return clean

    def redact(self, decision: Decision) -> None:
        """Scrub one decision's record in place (replacing it only if something changed)."""
        record = decision.record
        fields = record if isinstance(record, dict) else record.model_dump(mode="json")
        scrubbed = self._value(fields)
        if scrubbed is not fields:
            decision.record = Record(scrubbed)

    def _value(self, value: Any) -> Any:
        """``value`` scrubbed; the same object when nothing in it changed."""
        kind = type(value)
        if kind is str:
            return self._str(value)
        if kind is dict:
            return self._dict(value)
        if isinstance(value, str):
            return self._str(value)
        if isinstance(value, dict):
            return self._dict(value)
        if isinstance(value, list):
            items = [self._value(v) for v in value]
            changed = any(a is not b for a, b in zip(items, value, strict=True))
            return items if changed else value
        return value

    def _str(self, value: str) -> str:
        scrubbed = self._texts.get(value, _UNSEEN)
        if scrubbed is _UNSEEN:
            scrubbed = self._scrub(value)
        return value if scrubbed is None else scrubbed

    def _scrub(self, value: str) -> str | None:
        """The rules' result for text not seen yet (cached); None when it did not change."""
        scrubbed = self.text(value)
        texts = self._texts
        if len(texts) >= _CACHED:
            texts.clear()
        texts[value] = None if scrubbed == value else scrubbed
        return texts[value]

    def _dict(self, value: dict) -> dict:
        """A new dict (same keys, same order) if a value changed, else ``value`` itself."""
        out = None
        texts = self._texts
        for key, item in value.items():
            kind = type(item)
            if kind is float or kind is int or item is None or key in _KEEP:
                continue
            if kind is str:  # inline: a record's strings are the most common values
                scrubbed = texts.get(item, _UNSEEN)
                if scrubbed is _UNSEEN:
                    scrubbed = self._scrub(item)
                if scrubbed is None:
                    continue
            elif kind is dict:
                scrubbed = self._map(item)
            elif kind is list and not item:
                continue
            else:
                scrubbed = self._value(item)
            if scrubbed is not item:
                if out is None:
                    out = dict(value)
                out[key] = scrubbed
        return value if out is None else out

    def _map(self, value: dict) -> dict:
        """A nested dict; a flat one (labels) that needed nothing is remembered by its items.

        Only "unchanged" is cached: it holds for every map with equal items, whatever
        the values' types, while a changed map is walked again (rare: labels with PII).
        """
        try:
            items = tuple(value.items())
            if items in self._clean:
                return value
        except TypeError:  # unhashable values: not a flat map
            return self._dict(value)
        done = self._dict(value)
        if done is value:
            if len(self._clean) >= _CACHED:
                self._clean.clear()
            self._clean.add(items)
        return done
