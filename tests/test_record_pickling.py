"""Input records cross processes pickled: by their fields, and old pickles still load."""

import copy
import pickle

from alertflow.operators.trace_edges import EdgeCall
from alertflow.schemas.records import AlertEvent, FeedbackEvent, LogEvent, MetricSample, SpanEvent
from hypothesis import given
from hypothesis import strategies as st

_TEXT = st.text(max_size=5)
_MAP = st.dictionaries(_TEXT, _TEXT, max_size=3)
_NS = st.integers(0, 2**63 - 1)

RECORDS = st.one_of(
    st.builds(MetricSample, _TEXT, _MAP, _NS, st.floats(allow_nan=False), _TEXT, _NS),
    st.builds(AlertEvent, _TEXT, st.sampled_from(["firing", "resolved"]), _MAP, _MAP, _NS,
              st.none() | _NS, _TEXT, _TEXT, _TEXT, _NS),
    st.builds(LogEvent, _NS, _TEXT, _TEXT, _TEXT, _MAP, _TEXT, _TEXT),
    st.builds(SpanEvent, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _NS, _NS, st.booleans(),
              _MAP, _TEXT),
    st.builds(FeedbackEvent, _TEXT, st.sampled_from(["true_positive", "noise"]), _TEXT, _NS,
              st.none() | _TEXT, _TEXT),
    st.builds(EdgeCall, _TEXT, _TEXT, _NS, _NS, st.booleans(), _MAP, _TEXT),
)  # fmt: skip


@given(RECORDS)
def test_a_record_survives_pickling_and_copying_with_every_field(record):
    back = pickle.loads(pickle.dumps(record))
    assert type(back) is type(record)
    assert back == record == copy.deepcopy(record) == copy.copy(record)


@given(RECORDS)
def test_a_snapshot_pickled_the_old_way_still_loads(record):
    # Before records pickled by fields they pickled as the dataclass default does.
    cls = type(record)
    reduce = cls.__reduce__
    del cls.__reduce__
    try:
        old = pickle.dumps(record)
    finally:
        cls.__reduce__ = reduce
    assert pickle.loads(old) == record
