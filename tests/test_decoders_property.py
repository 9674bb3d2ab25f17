"""Whatever arrives on a topic, a decoder returns valid records or raises DecodeError.

Nothing else may escape: any other exception would stop the flow instead of sending
the message to the dead-letter output.
"""

import copy
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import orjson
import pytest
from alertflow.schemas.decoders import STREAMS, decode_stream
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.records import AlertEvent, FeedbackEvent, LogEvent, MetricSample, SpanEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GOLDEN = Path(__file__).parent / "golden"
FORMAT_STREAMS = {  # the same table as test_golden.py
    "prometheus": "metrics",
    "otlp_metrics": "metrics",
    "alertmanager": "alerts",
    "otlp_logs": "logs",
    "json_logs": "logs",
    "otlp_traces": "traces",
    "feedback": "feedback",
}
RECORD_TYPES = {
    "metrics": MetricSample,
    "alerts": AlertEvent,
    "logs": LogEvent,
    "traces": SpanEvent,
    "feedback": FeedbackEvent,
}
PAYLOADS = sorted(p for p in GOLDEN.glob("*/*.json") if not p.name.endswith(".expected.json"))
INT64 = (-(2**63), 2**63 - 1)

FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _golden_keys() -> list[str]:
    keys: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(node)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for payload in PAYLOADS:
        visit(orjson.loads(payload.read_bytes()))
    return sorted(keys)


# JSON values whose object keys are often ones the decoders look for, so generated
# documents get past the first checks and reach the deeper ones.
KEYS = st.sampled_from(_golden_keys()) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
    | st.sampled_from(["NaN", "+Inf", "0", "2026-11-25T10:00:00Z", "SPAN_KIND_SERVER"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=24,
)
WRONG_TYPED = st.sampled_from(
    [None, True, False, 0, -1, 1.5, 2**63, 2**64 - 1, "", "x", "NaN", [], [None], {}, {"a": 1}]
)


def check_decodes_or_rejects(stream: str, raw: bytes) -> None:
    try:
        records = decode_stream(stream, raw, "prop")
    except DecodeError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return
    assert isinstance(records, list)
    for record in records:
        assert type(record) is RECORD_TYPES[stream]
        check_record_types(record)
        orjson.dumps(dataclasses.asdict(record))  # every sink can serialise it


def check_record_types(record: Any) -> None:
    hints = typing.get_type_hints(type(record))
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        assert conforms(value, hints[field.name]), (field.name, value)


def conforms(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in typing.get_args(hint))
    if origin is dict:
        return isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    if hint is type(None):
        return value is None
    if hint is int:
        return type(value) is int and INT64[0] <= value <= INT64[1]
    if hint is float:
        return type(value) is float
    return isinstance(value, hint)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node``, the root excluded."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    out = []
    for key, child in children:
        out.append((*prefix, key))
        out.extend(paths(child, (*prefix, key)))
    return out


def mutate(doc: Any, path: tuple[Any, ...], replacement: Any, delete: bool) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return doc


@FAST
@given(stream=st.sampled_from(STREAMS), raw=st.binary(max_size=300))
def test_arbitrary_bytes(stream: str, raw: bytes) -> None:
    check_decodes_or_rejects(stream, raw)


@FAST
@given(stream=st.sampled_from(STREAMS), doc=JSON_VALUES)
def test_arbitrary_json_documents(stream: str, doc: Any) -> None:
    check_decodes_or_rejects(stream, orjson.dumps(doc))


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{p.parent.name}/{p.stem}")
@settings(FAST, max_examples=120)
@given(data=st.data())
def test_golden_payload_with_one_field_deleted_or_replaced(payload: Path, data: Any) -> None:
    doc = orjson.loads(payload.read_bytes())
    path = data.draw(st.sampled_from(paths(doc)), label="path")
    delete = data.draw(st.booleans(), label="delete")
    replacement = None if delete else data.draw(WRONG_TYPED | JSON_VALUES, label="replacement")
    mutated = mutate(doc, path, replacement, delete)
    check_decodes_or_rejects(FORMAT_STREAMS[payload.parent.name], orjson.dumps(mutated))


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{p.parent.name}/{p.stem}")
@settings(FAST, max_examples=40)
@given(data=st.data())
def test_golden_payload_truncated(payload: Path, data: Any) -> None:
    raw = payload.read_bytes()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="cut")
    check_decodes_or_rejects(FORMAT_STREAMS[payload.parent.name], raw[:cut])


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_payloads_themselves_pass_the_checks(payload: Path) -> None:
    stream = FORMAT_STREAMS[payload.parent.name]
    assert decode_stream(stream, payload.read_bytes())
    check_decodes_or_rejects(stream, payload.read_bytes())
