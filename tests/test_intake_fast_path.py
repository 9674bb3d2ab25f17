"""The metrics intake's one-call path decodes exactly what the general path decodes."""

import orjson
from alertflow.dataflows.sources import FileLine
from alertflow.operators.intake import Intake
from hypothesis import example, given
from hypothesis import strategies as st


class _GeneralOnly(Intake):
    """Every message the long way: the reference."""

    def _adapter_sample(self, message, prefix, read_ns, records):
        return False


_VALUE = st.one_of(st.text(max_size=6), st.integers(-(2**63), 2**64 - 1), st.floats(), st.booleans(), st.none(),
                   st.sampled_from(["1.5", "NaN", "+Inf", "2026-11-25T10:00:00Z", "1795600800"]))
_SAMPLE = st.fixed_dictionaries(
    {"name": st.sampled_from(["up", "", "cpu"]) | _VALUE,
     "labels": st.dictionaries(st.sampled_from(["__name__", "job", "a.b"]), _VALUE, max_size=3),
     "timestamp": _VALUE, "value": _VALUE},
    optional={"extra": _VALUE})  # fmt: skip
_MESSAGE = st.one_of(
    _SAMPLE.map(orjson.dumps),
    st.lists(_SAMPLE, max_size=2).map(orjson.dumps),
    st.just(b'{"resourceMetrics":[]}'),
    st.binary(max_size=12),
    st.sampled_from([b"", b"  ", b"null", b"{}", b" {\"name\":\"up\"} ", b"[[[[]]]]"]),
)


_GOOD = b'{"name":"up","labels":{"job":"api"},"timestamp":"2026-11-25T10:00:00Z","value":"1"}'


@given(st.lists(_MESSAGE, max_size=12))
@example([_GOOD, _GOOD + b" " * 10, _GOOD.replace(b"1", b"x")])  # valid, over the cap, bad
def test_a_poll_decodes_to_the_same_records_and_dead_letters(raws):
    poll = [FileLine("in.jsonl", i + 1, raw) for i, raw in enumerate(raws)]
    fast = Intake("metrics", max_message_bytes=len(_GOOD)).decode_batch([poll])
    slow = _GeneralOnly("metrics", max_message_bytes=len(_GOOD)).decode_batch([poll])
    for batch in fast + slow:  # the read stamp is the wall clock of each call
        for item in batch:
            if hasattr(item, "read_ns"):
                item.read_ns = 0
    assert fast == slow
