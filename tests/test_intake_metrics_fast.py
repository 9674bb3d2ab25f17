"""Intake's inline metrics path gives what the per-message path gives, record and dead letter."""

import copy
import json

import orjson
import pytest
from alertflow.dataflows.sources import FileLine
from alertflow.operators.intake import Intake
from alertflow.schemas import prometheus
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.prometheus import well_formed_sample
from hypothesis import example, given, settings
from hypothesis import strategies as st

_GOOD = {"timestamp": "2026-11-25T10:00:00Z", "value": "1.5", "name": "up",
         "labels": {"__name__": "up", "job": "api"}}
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.sampled_from(["1.5", "NaN", "+Inf", "x", "", "2026-11-25T10:00:00Z", "1795600800",
                     "2026-11-25T10:00:00.123Z", "²", "1e400", "-5"]),
    st.text(max_size=8),
)
_labels = st.one_of(
    st.dictionaries(st.sampled_from(["__name__", "job", "a b", "é", ""]),
                    st.one_of(st.text(max_size=5), st.integers(0, 3), st.none()), max_size=3),
    _scalar, st.lists(st.text(max_size=3), max_size=2),
)
_doc = st.fixed_dictionaries(
    {}, optional={"timestamp": _scalar, "value": _scalar, "name": _scalar, "labels": _labels,
                  "resourceMetrics": st.just([])},
)


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()  # any int; NaN and Infinity spelled as orjson refuses


_raw = st.one_of(
    _doc.map(_json),
    st.lists(_doc, max_size=2).map(_json),
    st.sampled_from([b"", b"  ", b"{", b"[]", b"null", b"3", b'"x"', b"[" * 2000 + b"]" * 2000,
                     orjson.dumps(_GOOD), orjson.dumps(_GOOD) + b" trailing"]),
    st.binary(max_size=30),
)


class _Errored(FileLine):
    def error(self):
        return "broker went away"


def _one_by_one(intake: Intake, poll: list) -> list:
    records: list = []
    dead: list = []
    for message in poll:  # the per-message path every other stream takes
        intake._decode(message, "in.jsonl:", 7, records, dead)
    return [batch for batch in (records, dead) if batch]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_raw, st.booleans()), max_size=8), st.sampled_from([40, 1 << 20]))
@example([(orjson.dumps(_GOOD), False), (b"[" * 2000 + b"]" * 2000, False)], 1 << 20)
@example([(orjson.dumps({**_GOOD, "timestamp": "x"}), False),  # read, then refused late
          (orjson.dumps({**_GOOD, "timestamp": 0}), False), (orjson.dumps(_GOOD), True)], 1 << 20)
def test_inline_metrics_equal_the_per_message_path(messages, limit):
    def poll() -> list:
        return [(_Errored if errored else FileLine)("in.jsonl", n + 1, raw)
                for n, (raw, errored) in enumerate(messages)]

    intake = Intake("metrics", max_message_bytes=limit)
    polled = poll()
    polled_again = poll()
    inline = intake.decode_batch([_Stamped(polled)])
    expected = _one_by_one(intake, polled_again)
    assert [[_view(x) for x in batch] for batch in inline] == \
        [[_view(x) for x in batch] for batch in expected]


class _Stamped(list):
    read_ns = 7  # a gathered poll's read time (dataflows.kafka_io.Poll)


def _view(item: object) -> object:
    record = getattr(item, "record", None)
    if record is not None:  # a dead letter: every field, its id included
        return (item.stream, item.key, record.model_dump(), item.inputs)
    return (type(item), item.name, item.labels, item.ts_ns, repr(item.value), item.ref,
            item.read_ns)


@settings(max_examples=300, deadline=None)
@given(_doc)
@example({**_GOOD, "labels": {"job": 3}})
@example({**_GOOD, "labels": {"__name__": "up", "job": None}})
@example({**_GOOD, "labels": {"job": ["a"]}})
@example({**_GOOD, "value": "NaN", "timestamp": 1795600800})
@example({**_GOOD, "timestamp": "1.5"})
@example({**_GOOD, "timestamp": 0})
@example({**_GOOD, "timestamp": 9223372036854776.0})
def test_an_inline_sample_is_the_checked_paths(doc):
    # The inline reader takes a message only where the checked reader gives the same sample,
    # and refuses one (a timestamp out of range or not a time) with the checked reader's error.
    try:
        fast = well_formed_sample(copy.deepcopy(doc), "in/0@7")
    except DecodeError as refused:
        fast, error = None, str(refused)
    else:
        error = None
    if fast is None and error is None:
        return  # it goes the long way
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prometheus, "well_formed_sample", lambda *_: None)
        if error is not None:
            with pytest.raises(DecodeError) as refused:
                prometheus.samples_from_adapter(copy.deepcopy(doc), "in/0@7")
            assert str(refused.value) == error
            return
        checked = prometheus.samples_from_adapter(copy.deepcopy(doc), "in/0@7")
    assert [repr(s) for s in checked] == [repr(fast)]
