"""Canonical series keys and label hygiene.

A series is identified by its metric name and its labels, sorted, in
Prometheus' text notation: ``http_requests_total{job="api",method="GET"}``.
"""

import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from alertflow.schemas.records import MetricSample

_VALID_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    """What label hygiene does to every sample.

    ``drop`` removes labels that only add cardinality (e.g. a pod template hash);
    values longer than ``max_value_len`` are truncated, since they are almost
    always payloads pasted into a label by mistake.
    """

    drop: frozenset[str] = frozenset()
    max_value_len: int = 256


def clean_label_name(name: str) -> str:
    """Make a label name valid in Prometheus' grammar.

    >>> clean_label_name("service.name")
    'service_name'
    >>> clean_label_name("9lives")
    '_9lives'
    """
    if _VALID_LABEL.match(name):
        return name
    cleaned = _INVALID_CHARS.sub("_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else "_" + cleaned


def clean_labels(labels: dict[str, str], policy: LabelPolicy) -> dict[str, str]:
    """Apply label hygiene: valid names, no empty values, no dropped or internal labels."""
    out: dict[str, str] = {}
    for raw_name, raw_value in labels.items():
        value = raw_value.strip()
        # Prometheus treats an empty label value as an absent label.
        if not value or raw_name.startswith("__"):
            continue
        name = clean_label_name(raw_name.strip())
        if name in policy.drop:
            continue
        out[name] = value[: policy.max_value_len]
    return out


def series_key(name: str, labels: dict[str, str]) -> str:
    """The canonical key of a series: name and sorted labels.

    >>> series_key("up", {"job": "api", "instance": "a:9100"})
    'up{instance="a:9100",job="api"}'
    """
    if not labels:
        return name
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{body}}}"


def shard_of(key: str, shards: int) -> str:
    """The shard a series belongs to; stable across processes, unlike ``hash()``.

    >>> shard_of('up{job="api"}', 64)
    's28'
    """
    return f"s{shard_number(key, shards)}"


def shard_number(key: str, shards: int) -> int:
    """:func:`shard_of`'s number alone.

    >>> shard_number('up{job="api"}', 64)
    28
    """
    return zlib.crc32(key.encode()) % shards


class ShardItems(list):
    """A shard's ``(series_key, sample)`` pairs: a list, pickled as plain rows or columns.

    With several processes the engine pickles every item that crosses to another
    worker. A series' name and labels are not sent when its key spells them exactly
    (labels in sorted order, as Prometheus and the adapters write them): the receiver
    rebuilds them from the key, once per series (:func:`labels_of_key`), so a sample
    costs its key, time, value and refs. Anything else is sent as it is. Nothing refers
    to an earlier message, so a pickle stays valid in any process, after any restart.
    ``SeriesNormalizer.shard_batches`` knows which of its pairs are spelled by their key;
    pairs added otherwise are checked when pickled.
    """

    __slots__ = ("_known", "_odd")  # how many pairs were judged; those not spelled by their key

    def __reduce__(self) -> tuple:
        """Rebuilt by :func:`_unpack_rows` or :func:`_unpack_columns`."""
        try:
            odd, known = self._odd, self._known
        except AttributeError:
            odd, known = [], 0
        if known != len(self):
            odd = [i for i, (key, s) in enumerate(self) if not _spells(key, s.name, s.labels)]
        spelled = {i: (self[i][1].name, self[i][1].labels) for i in odd} if odd else None
        if len(self) < _COLUMNS_FROM:
            # At a low rate a poll brings a shard one or two samples: one pass, as rows.
            rows = [(key, s.ts_ns, s.value, s.ref, s.read_ns) for key, s in self]
            return (_unpack_rows, (rows, spelled))
        samples = [sample for _, sample in self]
        columns = (
            [key for key, _ in self],
            [s.ts_ns for s in samples],
            [s.value for s in samples],
            [s.ref for s in samples],
            [s.read_ns for s in samples],
        )
        return (_unpack_columns, (*columns, spelled))


# key -> the (name, labels) it spells, or None; bounded like the normalizer's cache
# (cleared when full: a miss only costs a parse).
_PARSED: dict[str, tuple[str, dict[str, str]] | None] = {}
_CACHE_SIZE = 200_000
# From this many pairs an item is pickled as columns (one list per field: ~8% cheaper per
# sample than rows in polls of 1,000 samples); below, as rows (~40% cheaper for 1-2).
_COLUMNS_FROM = 8
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def labels_of_key(key: str) -> tuple[str, dict[str, str]] | None:
    """The name and labels a series key spells (labels in key order), or None.

    >>> labels_of_key('up{instance="a:9100",job="api"}')
    ('up', {'instance': 'a:9100', 'job': 'api'})
    >>> labels_of_key('up{job=api}') is None
    True
    """
    hit = _PARSED.get(key, False)
    if hit is not False:
        return hit  # type: ignore[return-value]
    parsed = _parse_key(key)
    if len(_PARSED) >= _CACHE_SIZE:
        _PARSED.clear()
    _PARSED[key] = parsed
    return parsed


def _parse_key(key: str) -> tuple[str, dict[str, str]] | None:
    brace = key.find("{")
    if brace < 0:
        return key, {}
    if not key.endswith("}"):
        return None
    labels: dict[str, str] = {}
    body, pos = key[brace + 1 : -1], 0
    while pos < len(body):
        match = _PAIR.match(body, pos)
        if match is None or match.group(1) in labels:
            return None
        labels[match.group(1)] = _ESCAPED.sub(_unescape, match.group(2))
        pos = match.end()
    return key[:brace], labels


def _unescape(match: re.Match) -> str:
    char = match.group(1)
    return "\n" if char == "n" else char


def _spells(key: str, name: str, labels: dict[str, str]) -> bool:
    """Whether ``key`` rebuilds exactly this name and labels, their order included."""
    parsed = labels_of_key(key)
    if parsed is None or parsed[0] != name or parsed[1] != labels:
        return False
    # The same labels in another order: the key cannot say which.
    return list(parsed[1]) == list(labels)


def _unpack(keys: list, names: list, labels: list, ts: list, values: list, refs: list,
            read: list) -> ShardItems:
    """The format before labels crossed by key; kept so such a pickle still loads."""
    return ShardItems(
        (key, MetricSample(*fields))
        for key, *fields in zip(keys, names, labels, ts, values, refs, read, strict=True)
    )


def _unpack_columns(keys: list, ts: list, values: list, refs: list, read: list,
                    spelled: dict | None) -> ShardItems:
    rows = zip(keys, ts, values, refs, read, strict=True)
    if spelled is not None:
        return _unpack_rows(list(rows), spelled)
    parsed, of_key = _PARSED, labels_of_key
    return ShardItems([
        (key, MetricSample(*(parsed.get(key) or of_key(key)), t, v, r, rn))  # type: ignore[misc]
        for key, t, v, r, rn in rows
    ])


def _unpack_rows(rows: list[tuple], spelled: dict | None) -> ShardItems:
    parsed, of_key = _PARSED, labels_of_key
    if spelled is None:
        return ShardItems([
            (key, MetricSample(*(parsed.get(key) or of_key(key)), ts, value, ref, read))  # type: ignore[misc]
            for key, ts, value, ref, read in rows
        ])
    return ShardItems([
        (key, MetricSample(*(spelled.get(i) or parsed.get(key) or of_key(key)),  # type: ignore[misc]
                           ts, value, ref, read))
        for i, (key, ts, value, ref, read) in enumerate(rows)
    ])


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class SeriesNormalizer:
    """Turns decoded samples into ``(series_key, sample)`` pairs with clean labels, by shard.

    The same series arrives again every scrape with the same labels, so the
    cleaned labels and key are cached by the raw name and label items; the
    cache is bounded and simply starts over when full.

    With ``part_keys``, a sample read from a partition it knows (by the ref's
    ``topic/partition@`` prefix) is keyed by that partition's own shards: a callable from
    the prefix to a mapping from the series' shard number to the state key, or None for
    samples keyed by shard alone (``dataflows.routing.LocalShards``).
    """

    def __init__(
        self,
        policy: LabelPolicy | None = None,
        cache_size: int = 200_000,
        shards: int = 64,
        part_keys: Callable[[str], Any] | None = None,
    ) -> None:
        self.policy = policy or LabelPolicy()
        self.cache_size = cache_size
        self.shards = shards
        self.part_keys = part_keys
        self._names = [f"s{i}" for i in range(shards)]  # shard_of's names
        # raw (name, label items) -> key, clean labels, shard, whether the key spells them
        self._cache: dict[tuple, tuple[str, dict[str, str], int, bool]] = {}

    def _lookup(self, sample: MetricSample) -> tuple[str, dict[str, str], int, bool]:
        raw = (sample.name, *sample.labels.items())
        hit = self._cache.get(raw)
        if hit is None:
            labels = clean_labels(sample.labels, self.policy)
            key = series_key(sample.name, labels)
            hit = (key, labels, shard_number(key, self.shards), _spells(key, sample.name, labels))
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[raw] = hit
        return hit

    def shard_batches(
        self, samples: Iterable[MetricSample]
    ) -> list[tuple[str, ShardItems]]:
        """Normalise, then group ``(series_key, sample)`` pairs by shard, keeping arrival order."""
        groups: dict[str, ShardItems] = {}
        names = self._names
        part_keys = self.part_keys
        prefix, keys = "", names  # the last ref prefix seen and the shard names it takes
        cache = self._cache
        for sample in samples:
            # _lookup's hit inline (most samples): a call less per sample.
            hit = cache.get((sample.name, *sample.labels.items()))
            key, labels, shard, spelled = hit if hit is not None else self._lookup(sample)
            sample.labels = labels
            if part_keys is not None:
                ref = sample.ref
                if not (prefix and ref.startswith(prefix)):
                    prefix = ref[: ref.rfind("@") + 1]  # a poll's samples share one
                    part = part_keys(prefix) if prefix else None
                    keys = names if part is None else part  # (a new partition's is empty)
            name = keys[shard]
            group = groups.get(name)
            if group is None:
                group = groups[name] = ShardItems()
                group._odd = []
            if not spelled:
                group._odd.append(len(group))
            group.append((key, sample))
        for group in groups.values():
            group._known = len(group)
        return list(groups.items())
