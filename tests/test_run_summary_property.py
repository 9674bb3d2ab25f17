"""The run summary and the current-incident view never crash on what the outside world sends."""

import pytest
from alertflow.dataflows.incident_view import latest_versions
from alertflow.dataflows.run_summary import RunSummary
from alertflow.operators.intake import dead_letter
from alertflow.schemas.config import ConfigError
from alertflow.schemas.decoders import STREAMS
from hypothesis import given
from hypothesis import strategies as st

raw_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.just(b'{"version":"4","status":"firing","alerts":[]}'),
    st.just(b'{"timestamp":1,"value":"1","name":"up","labels":{}}'),
)


@given(stream=st.sampled_from(STREAMS), raws=st.lists(raw_bytes, min_size=1, max_size=30))
def test_any_dead_letters_give_a_summary_and_a_warning(stream, raws):
    summary = RunSummary()
    count = summary.input_counter(stream)
    count("in", list(raws))
    summary.record(
        "out", [dead_letter(stream, "f.jsonl", None, i, raw, "bad") for i, raw in enumerate(raws)]
    )
    lines = summary.lines()
    assert any(line.split()[:4] == [stream, str(len(raws)), "0", str(len(raws))] for line in lines)
    (warning,) = summary.warnings()
    assert warning.startswith(f"alertflow: warning: {stream}: {len(raws)} of {len(raws)} records")


@given(st.lists(raw_bytes, max_size=20))
def test_any_versions_file_gives_a_view_or_one_clear_error(lines):
    try:
        latest = latest_versions(lines, "x.jsonl")
    except ConfigError as exc:
        assert str(exc).startswith("x.jsonl:")
    else:
        assert all(line in lines for line in latest.values())


def test_the_highest_version_wins_whatever_the_order():
    v1 = b'{"incident_id":"a","version":1}'
    v2 = b'{"incident_id":"a","version":2}'
    assert latest_versions([v2, v1], "f") == {"a": v2}
    with pytest.raises(ConfigError, match="f:2: not an incident version"):
        latest_versions([v1, b'{"incident_id":"a"}'], "f")
