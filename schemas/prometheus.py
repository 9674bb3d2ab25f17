"""prometheus-kafka-adapter JSON: ``{"timestamp","value","name","labels"}`` per message."""

from typing import Any

from alertflow.schemas import jsoncodec
from alertflow.schemas._eventtime import event_time_ns, text_event_time_ns
from alertflow.schemas._fields import require_dict, require_str, sample_value, string_map
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import MetricSample


def decode_prometheus_sample(raw: bytes, ref: str = "") -> list[MetricSample]:
    """Decode one adapter message (a JSON object, or a JSON array of them).

    >>> decode_prometheus_sample(b'{"timestamp":"2026-11-25T10:00:00Z","value":"1.5",'
    ...                          b'"name":"up","labels":{"__name__":"up","job":"api"}}')[0].labels
    {'job': 'api'}
    """
    return samples_from_adapter(jsoncodec.loads(raw), ref)


def samples_from_adapter(doc: Any, ref: str = "") -> list[MetricSample]:
    """Turn an already-parsed adapter document (an object or an array of them) into samples."""
    items = doc if isinstance(doc, list) else [doc]
    return [_sample(item, ref) for item in items]


def _sample(item: Any, ref: str) -> MetricSample:
    fast = well_formed_sample(item, ref)
    if fast is not None:
        return fast
    obj = require_dict(item, "prometheus sample")
    name = require_str(obj, "name", "prometheus sample")
    labels = string_map(obj.get("labels"), "prometheus sample labels")
    labels.pop("__name__", None)
    for field in ("timestamp", "value"):
        if field not in obj:
            raise DecodeError(f"prometheus sample: missing field {field!r}")
    ts_ns = event_time_ns(obj["timestamp"], "prometheus sample timestamp")
    return MetricSample(
        name=name,
        labels=labels,
        ts_ns=ts_ns,
        value=sample_value(obj["value"], "prometheus sample value"),
        ref=ref,
    )


_PLAIN = (str, int, float)


def well_formed_sample(item: Any, ref: str = "") -> MetricSample | None:
    """The adapter's usual shape, read without the per-field checks; None sends it the long way.

    Only a message whose every field has exactly the expected type takes this path, so
    it accepts nothing the checked path would reject.
    """
    if type(item) is not dict:
        return None
    try:  # subscripts, not four ``get`` calls: a missing field goes the long way too
        name, labels, stamp, value = item["name"], item["labels"], item["timestamp"], item["value"]
    except KeyError:
        return None
    if type(name) is not str or not name or type(labels) is not dict:
        return None
    # Exact types: bool (an int subclass) and other oddities take the checked path.
    if type(value) not in _PLAIN or type(stamp) not in _PLAIN:
        return None
    for text in labels.values():  # every label value a string (cheaper than a join)
        if type(text) is not str:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    labels.pop("__name__", None)
    what = "prometheus sample timestamp"
    ts_ns = text_event_time_ns(stamp, what) if type(stamp) is str else event_time_ns(stamp, what)
    return MetricSample(name, labels, ts_ns, number, ref)
