"""OTLP JSON metrics (``ExportMetricsServiceRequest``), as the Collector's Kafka exporter writes.

Each data point becomes one or more :class:`MetricSample` named and labelled the way
Prometheus exposes the same metric: names and label names are sanitised
(``http.server.duration`` becomes ``http_server_duration``), ``service.name`` becomes
the ``service`` label, and a histogram becomes ``_count``, ``_sum`` and cumulative
``_bucket`` series with an ``le`` label. Sums keep their value as sent, whatever
their temporality.
"""

import math
from itertools import pairwise
from typing import Any

from alertflow.schemas import jsoncodec
from alertflow.schemas._fields import require_dict, require_str
from alertflow.schemas._otlp import (
    attributes,
    double,
    float_text,
    int64,
    items,
    prometheus_name,
    unix_nano,
    walk,
)
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import MetricSample

_NO_RECORDED_VALUE = 1  # DataPointFlags: the Prometheus staleness marker in OTLP
_KINDS = ("gauge", "sum", "histogram", "summary")


def decode_otlp_metrics(raw: bytes, ref: str = "") -> list[MetricSample]:
    """Decode one ``ExportMetricsServiceRequest`` in OTLP JSON.

    >>> body = (b'{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name",'
    ...         b'"value":{"stringValue":"checkout"}}]},"scopeMetrics":[{"metrics":[{'
    ...         b'"name":"queue.depth","gauge":{"dataPoints":[{"timeUnixNano":'
    ...         b'"1795600800000000000","asInt":"7"}]}}]}]}]}')
    >>> [(s.name, s.labels, s.value) for s in decode_otlp_metrics(body)]
    [('queue_depth', {'service': 'checkout'}, 7.0)]
    """
    return metrics_from_otlp(jsoncodec.loads(raw), ref)


def metrics_from_otlp(doc: Any, ref: str = "") -> list[MetricSample]:
    """Turn an already-parsed OTLP JSON metrics document into samples."""
    out: list[MetricSample] = []
    for resource_attrs, metric in walk(doc, "Metrics", "metrics"):
        base = resource_labels(resource_attrs)
        out.extend(_metric_samples(metric, base, ref))
    return out


def resource_labels(resource_attrs: dict[str, str]) -> dict[str, str]:
    """Resource attributes as Prometheus labels: ``service.name`` is ``service``.

    >>> resource_labels({"service.name": "api", "k8s.namespace.name": "shop"})
    {'service': 'api', 'k8s_namespace_name': 'shop'}
    """
    labels: dict[str, str] = {}
    for key, value in resource_attrs.items():
        labels["service" if key == "service.name" else prometheus_name(key)] = value
    return labels


def _metric_samples(metric: dict[str, Any], base: dict[str, str], ref: str) -> list[MetricSample]:
    name = require_str(metric, "name", "OTLP metric")
    what = f"metric {name!r}"
    kinds = [kind for kind in _KINDS if kind in metric]
    if len(kinds) != 1:
        raise DecodeError(f"{what}: expected exactly one of {', '.join(_KINDS)}")
    kind = kinds[0]
    data = require_dict(metric[kind], f"{what}.{kind}")
    points = items(data, "dataPoints", f"{what}.{kind}")
    emit = _POINT_READERS[kind]
    out: list[MetricSample] = []
    for i, point in enumerate(points):
        where = f"{what}.{kind}.dataPoints[{i}]"
        point = require_dict(point, where)
        labels = {**base, **_point_labels(point, where)}
        ts_ns = unix_nano(point, "timeUnixNano", where)
        if ts_ns == 0:
            raise DecodeError(f"{where}: field 'timeUnixNano' is required")
        stale = bool(int64(point.get("flags", 0), f"{where}.flags") & _NO_RECORDED_VALUE)
        for suffix, extra, value in emit(point, where, stale):
            out.append(
                MetricSample(
                    name=prometheus_name(name) + suffix,
                    labels={**labels, **extra},
                    ts_ns=ts_ns,
                    value=math.nan if stale else value,
                    ref=ref,
                )
            )
    return out


def _point_labels(point: dict[str, Any], where: str) -> dict[str, str]:
    own = attributes(point.get("attributes"), f"{where}.attributes")
    return {prometheus_name(key): value for key, value in own.items()}


Emitted = list[tuple[str, dict[str, str], float]]  # (name suffix, extra labels, value)


def _number_point(point: dict[str, Any], where: str, stale: bool) -> Emitted:
    if "asDouble" in point:
        value = double(point["asDouble"], f"{where}.asDouble")
    elif "asInt" in point:
        value = float(int64(point["asInt"], f"{where}.asInt"))
    elif stale:
        value = math.nan
    else:
        raise DecodeError(f"{where}: expected 'asDouble' or 'asInt'")
    return [("", {}, value)]


def _histogram_point(point: dict[str, Any], where: str, stale: bool) -> Emitted:
    count = int64(point.get("count", 0), f"{where}.count", unsigned=True)
    counts = [
        int64(c, f"{where}.bucketCounts[{i}]", unsigned=True)
        for i, c in enumerate(items(point, "bucketCounts", where))
    ]
    bounds = [
        double(b, f"{where}.explicitBounds[{i}]")
        for i, b in enumerate(items(point, "explicitBounds", where))
    ]
    if any(not a < b for a, b in pairwise(bounds)):
        raise DecodeError(f"{where}: 'explicitBounds' must be strictly increasing")
    if counts and len(counts) != len(bounds) + 1:
        raise DecodeError(
            f"{where}: expected {len(bounds) + 1} 'bucketCounts' for {len(bounds)} "
            f"'explicitBounds', got {len(counts)}"
        )
    out: Emitted = [("_count", {}, float(count))]
    if "sum" in point:
        out.append(("_sum", {}, double(point["sum"], f"{where}.sum")))
    cumulative = 0
    for bound, bucket in zip(bounds, counts, strict=False):
        cumulative += bucket
        out.append(("_bucket", {"le": float_text(bound)}, float(cumulative)))
    # Prometheus's +Inf bucket is the total count, also when a point has no buckets.
    out.append(("_bucket", {"le": "+Inf"}, float(cumulative + counts[-1] if counts else count)))
    return out


def _summary_point(point: dict[str, Any], where: str, stale: bool) -> Emitted:
    out: Emitted = [
        ("_count", {}, float(int64(point.get("count", 0), f"{where}.count", unsigned=True))),
        ("_sum", {}, double(point.get("sum", 0), f"{where}.sum")),
    ]
    for i, entry in enumerate(items(point, "quantileValues", where)):
        q_where = f"{where}.quantileValues[{i}]"
        entry = require_dict(entry, q_where)
        quantile = double(entry.get("quantile", 0), f"{q_where}.quantile")
        value = double(entry.get("value", 0), f"{q_where}.value")
        out.append(("", {"quantile": float_text(quantile)}, value))
    return out


_POINT_READERS = {
    "gauge": _number_point,
    "sum": _number_point,
    "histogram": _histogram_point,
    "summary": _summary_point,
}
