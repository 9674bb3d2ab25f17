"""Canonical series keys and label hygiene.

A series is identified by its metric name and its labels, sorted, in
Prometheus' text notation: ``http_requests_total{job="api",method="GET"}``.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.records import MetricSample

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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class SeriesNormalizer:
    """Turns decoded samples into ``(series_key, sample)`` pairs with clean labels.

    The same series arrives again every scrape with the same labels, so the
    cleaned labels and key are cached by the raw name and label items; the
    cache is bounded and simply starts over when full.
    """

    def __init__(self, policy: LabelPolicy | None = None, cache_size: int = 200_000) -> None:
        self.policy = policy or LabelPolicy()
        self.cache_size = cache_size
        self._cache: dict[tuple, tuple[str, dict[str, str]]] = {}

    def normalize(self, samples: Iterable[MetricSample]) -> list[tuple[str, MetricSample]]:
        """Clean labels in place (each sample was decoded for this flow alone) and key by series."""
        out = []
        cache = self._cache
        for sample in samples:
            raw = (sample.name, *sample.labels.items())
            hit = cache.get(raw)
            if hit is None:
                labels = clean_labels(sample.labels, self.policy)
                hit = (series_key(sample.name, labels), labels)
                if len(cache) >= self.cache_size:
                    cache.clear()
                cache[raw] = hit
            sample.labels = hit[1]
            out.append((hit[0], sample))
        return out
