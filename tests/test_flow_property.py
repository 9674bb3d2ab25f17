"""Whatever lands in an input file, the flow finishes, rejects it to dlq and keeps the rest."""

import orjson
from alertflow.dataflows.flow import build_flow
from alertflow.schemas.config import AlertflowConfig
from bytewax.testing import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.flowkit import alert_lines, metric_lines, read_jsonl

GOOD_METRICS = metric_lines(n_series=2, n_points=200, spike_at=180)
# Near-valid metric lines are made from the other series: a valid copy of an h0 line with
# a later timestamp would (rightly) make the spike late, and then nothing could find it.
MUTABLE_METRICS = [line for line in GOOD_METRICS if b'"host":"h1"' in line]
GOOD_ALERTS = alert_lines()

junk = st.one_of(
    st.binary(min_size=1, max_size=80),
    st.text(min_size=1, max_size=80).map(str.encode),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats()
        | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda v: orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY)),
)


def _mutate(line: bytes, data) -> bytes:
    """A near-valid payload: one field deleted or given a value of the wrong type."""
    doc = orjson.loads(line)
    target = doc["alerts"][0] if "alerts" in doc else doc
    key = data.draw(st.sampled_from(sorted(target)))
    if data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(st.sampled_from([None, 3, [], {}, "x", -1.5, True]))
    return orjson.dumps(doc)


def _no_newline(raw: bytes) -> bytes:
    cleaned = raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return cleaned if cleaned.strip() else b"x"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_bad_input_goes_to_dlq_and_good_records_still_flow(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("flow")
    metrics = list(GOOD_METRICS)
    alerts = list(GOOD_ALERTS)
    bad = {"metrics": 0, "alerts": 0}
    inserted: dict[str, set[int]] = {"metrics": set(), "alerts": set()}
    for stream, lines, good in (
        ("metrics", metrics, MUTABLE_METRICS),
        ("alerts", alerts, GOOD_ALERTS),
    ):
        for _ in range(data.draw(st.integers(0, 4))):
            if data.draw(st.booleans()):
                raw = _no_newline(data.draw(junk))
            else:
                raw = _mutate(data.draw(st.sampled_from(good)), data)
            at = data.draw(st.integers(0, len(lines)))
            lines.insert(at, raw)
            inserted[stream] = {o + 1 if o > at else o for o in inserted[stream]} | {at + 1}
            bad[stream] += 1
    (tmp / "metrics.jsonl").write_bytes(b"\n".join(metrics) + b"\n")
    (tmp / "alerts.jsonl").write_bytes(b"\n".join(alerts) + b"\n")
    config = AlertflowConfig(
        inputs={"metrics": [str(tmp / "metrics.jsonl")], "alerts": [str(tmp / "alerts.jsonl")]},
        output=str(tmp / "out"),
    )
    run_main(build_flow(config))
    dlq = read_jsonl(tmp / "out" / "dlq.jsonl")
    for record in dlq:
        assert record["reason"] and record["offset"] >= 1
        # Rejected: an inserted line, or a good sample made late by an inserted valid one
        # carrying a newer timestamp for its series.
        assert record["offset"] in inserted[record["stream"]] or record["reason"].startswith(
            "late sample"
        ), record
    # Some junk decodes validly (e.g. a mutated value that is still a string); the spike
    # and both incidents survive whatever was added.
    anomalies = read_jsonl(tmp / "out" / "anomalies.jsonl")
    assert any(
        a["labels"].get("host") == "h0" and a["ts"] == "2026-11-25T11:30:00.000Z" for a in anomalies
    )
    records = read_jsonl(tmp / "out" / "incidents.jsonl")
    # c2's lone warning is a line of the estate's noise digest (domain "*").
    clusters = {m["labels"].get("cluster") for r in records for m in r["members"]}
    assert "c1" in {r["domain"] for r in records} and {"c1", "c2"} <= clusters
