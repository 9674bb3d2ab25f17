"""Canonical series keys and label hygiene.

A series is identified by its metric name and its labels, sorted, in
Prometheus' text notation: ``http_requests_total{job="api",method="GET"}``.
"""

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

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
    return f"s{zlib.crc32(key.encode()) % shards}"


class ShardItems(list):
    """A shard's ``(series_key, sample)`` pairs: a list, pickled as columns.

    With several processes the engine pickles every item that crosses to another
    worker; a list of samples pickled object by object cost ~15 µs per sample, its
    columns (plain lists of strings and numbers, each series' labels once) ~0.5 µs.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple:
        """Rebuilt by :func:`_unpack` from one list per field."""
        samples = [sample for _, sample in self]
        columns = (
            [key for key, _ in self],
            [s.name for s in samples],
            [s.labels for s in samples],
            [s.ts_ns for s in samples],
            [s.value for s in samples],
            [s.ref for s in samples],
            [s.read_ns for s in samples],
        )
        return (_unpack, columns)


def _unpack(keys: list, names: list, labels: list, ts: list, values: list, refs: list,
            read: list) -> ShardItems:
    return ShardItems(
        (key, MetricSample(*fields))
        for key, *fields in zip(keys, names, labels, ts, values, refs, read, strict=True)
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class SeriesNormalizer:
    """Turns decoded samples into ``(series_key, sample)`` pairs with clean labels, by shard.

    The same series arrives again every scrape with the same labels, so the
    cleaned labels and key are cached by the raw name and label items; the
    cache is bounded and simply starts over when full.
    """

    def __init__(
        self, policy: LabelPolicy | None = None, cache_size: int = 200_000, shards: int = 64
    ) -> None:
        self.policy = policy or LabelPolicy()
        self.cache_size = cache_size
        self.shards = shards
        self._cache: dict[tuple, tuple[str, dict[str, str], str]] = {}

    def _lookup(self, sample: MetricSample) -> tuple[str, dict[str, str], str]:
        raw = (sample.name, *sample.labels.items())
        hit = self._cache.get(raw)
        if hit is None:
            labels = clean_labels(sample.labels, self.policy)
            key = series_key(sample.name, labels)
            hit = (key, labels, shard_of(key, self.shards))
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[raw] = hit
        return hit

    def shard_batches(
        self, samples: Iterable[MetricSample]
    ) -> list[tuple[str, ShardItems]]:
        """Normalise, then group ``(series_key, sample)`` pairs by shard, keeping arrival order."""
        groups: dict[str, ShardItems] = {}
        for sample in samples:
            key, labels, shard = self._lookup(sample)
            sample.labels = labels
            group = groups.get(shard)
            if group is None:
                group = groups[shard] = ShardItems()
            group.append((key, sample))
        return list(groups.items())
