"""Per-template series for the detectors, and a burst's tail counted into its open incident."""

import pytest
from alertflow.operators.correlation.incidents import IncidentGrouper, IncidentSettings
from alertflow.operators.log_patterns import LogPatterns, LogPatternSettings, LogSignal
from alertflow.operators.log_series import SERIES, TemplateSeries, TemplateSeriesSettings
from alertflow.schemas.records import AlertEvent, LogEvent
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9
T0 = 1_795_600_800 * S
TEMPLATES = [f"payment gateway {w} declined the card" for w in ("alpha", "beta", "gamma")]


def line(t_s, message, level="warn", service="cart"):
    return LogEvent(
        T0 + round(t_s * S), service, level, message, {"cluster": "c1"}, ref=f"logs:{t_s}"
    )


def series(samples):
    return [((s.ts_ns - T0) // S, s.value) for s in samples if s.name == SERIES]


class _Tpl:
    def __init__(self, bucket, count, total, last_ns):
        self.bucket, self.count, self.total, self.last_ns = bucket, count, total, last_ns


@pytest.mark.parametrize(
    ("tpl", "close_at", "expected"),
    [
        (_Tpl(0, 3, 3, 0), 1, [(60, 3.0)]),  # its bucket
        (_Tpl(0, 3, 3, 0), 3, [(60, 3.0), (120, 0.0), (180, 0.0)]),  # then silence is 0
        (_Tpl(2, 3, 3, 130), 2, [(60, 0.0), (120, 0.0)]),  # its bucket not closed yet
        (_Tpl(0, 3, 3, 0), 62, []),  # silent past idle_buckets: the slot is given back
    ],
)
def test_template_series_table(tpl, close_at, expected):
    ts = TemplateSeries("c1", "cart", 60 * S, TemplateSeriesSettings(watch_after=3))
    ts.on_line("t", _Tpl(0, 3, 3, 0))
    got = [(s.ts_ns // S, s.value) for s in ts.close(close_at, {"t": tpl})]
    assert got == expected
    assert ("t" in ts.watched) == bool(expected)


def test_a_template_gets_a_series_only_after_watch_after_lines():
    ts = TemplateSeries("c1", "cart", 60 * S, TemplateSeriesSettings(watch_after=3))
    for total in (1, 2):
        ts.on_line("t", _Tpl(0, total, total, 0))
        assert not ts.watched
    ts.on_line("t", _Tpl(0, 3, 3, 0))
    assert ts.watched == {"t": 0}


def test_lines_per_template_and_bucket_become_series():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0))
    lines = [line(t, TEMPLATES[0]) for t in (1, 2, 3, 61, 62, 181)]
    lp.on_logs([*lines, line(250, "healthcheck ok", "info")])
    assert series(lp.take_series()) == [(60, 3.0), (120, 2.0), (180, 0.0), (240, 1.0)]
    assert lp.take_series() == []  # handed out once
    lp.flush()
    assert series(lp.take_series()) == [(300, 0.0)]


def test_a_template_explosion_is_bounded_per_service():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0, max_series=5))
    # 300 distinct messages, 3 lines each: each is a template of its own
    msgs = [f"shard {chr(97 + i % 26)}{chr(97 + i // 26)} lost quorum" for i in range(300)]
    lp.on_logs([line(k * 0.01 + i * 0.05, m) for i, m in enumerate(msgs) for k in range(3)])
    lp.on_logs([line(200, "later")])
    ids = {s.labels["template_id"] for s in lp.take_series()}
    assert 0 < len(ids) <= 5 and len(lp.series.watched) <= 5


def test_series_labels_name_the_template():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0))
    lp.on_logs([line(t, TEMPLATES[1]) for t in (1, 2, 3)] + [line(70, "x", "info")])
    (sample,) = lp.take_series()
    assert set(sample.labels) == {"service", "cluster", "template_id"}
    assert sample.labels["template_id"] == lp.template_of(TEMPLATES[1])[0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 600)), min_size=3, max_size=80))
def test_series_count_every_line_after_the_watch_starts(rows):
    rows.sort(key=lambda r: r[1])
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0, series_after=1))
    lp.on_logs([line(t, TEMPLATES[i]) for i, t in rows])
    lp.flush()
    total = sum(s.value for s in lp.take_series())
    assert total == len(rows)  # in time order, every line lands in exactly one sample


def burst_then_tail(follow_s=600.0):
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0, follow_s=follow_s))
    out = lp.on_logs([line(1 + i, TEMPLATES[2], "error") for i in range(6)])  # burst
    out += lp.on_logs([line(61, TEMPLATES[2], "error")])  # under threshold: the burst ends
    out += lp.on_logs([line(121, TEMPLATES[2], "error"), line(122, TEMPLATES[2], "error")])
    out += lp.on_logs([line(181, "tick", "info")])
    out += lp.on_logs([line(1000, TEMPLATES[2], "error"), line(1100, "tick", "info")])
    return out


def test_after_a_burst_its_lines_follow_as_tails_for_follow_s():
    signals = [(s.burst, s.count) for s in burst_then_tail()]
    # a novelty (its first error line), the burst's refresh (5 more), the bucket that ended
    # it (1), then a tail of 2; the line at 1000 s is past follow_s and sends nothing.
    assert signals == [(True, 1), (True, 5), (True, 1), (False, 2)]
    assert [s.burst for s in burst_then_tail(follow_s=0)] == [True, True, True]


def alert(start_s, status="firing"):
    return AlertEvent(
        fingerprint="fp1",
        status=status,
        labels={"alertname": "X", "service": "cart", "severity": "warning", "cluster": "c1"},
        annotations={},
        starts_ns=T0 + start_s * S,
        ends_ns=None,
        ref=f"alerts:{start_s}",
    )


def tail(count, last_s, burst=False):
    return LogSignal("c1", "cart", "abc", "boom <*>", "error", T0, T0 + last_s * S, count, 0.0,
                     "boom 1", f"logs:{last_s}", burst=burst)  # fmt: skip


def log_member(decisions):
    incidents = [d.record for d in decisions if d.stream == "incidents"]
    members = [m for m in incidents[-1].members if m.kind == "log"] if incidents else []
    return members[0] if members else None


def test_a_tail_counts_into_the_open_incident_its_template_is_in():
    g = IncidentGrouper("c1", IncidentSettings(lateness_s=0, evidence_interval_s=0))
    g.on_alert(alert(0), 0)
    out = g.on_log(tail(5, 10, burst=True), 0)
    assert log_member(out).count == 5
    g.on_log(tail(3, 70), 0)
    g.on_log(tail(2, 130), 0)
    (incident,) = g.incidents.values()
    members = [m for m in incident.members.values() if m.kind == "log"]
    assert [(m.fingerprint, m.count) for m in members] == [("log:c1/cart:abc", 10)]


def test_a_tail_without_an_open_incident_is_dropped():
    g = IncidentGrouper("c1", IncidentSettings(lateness_s=0))
    assert g.on_log(tail(3, 10), 0) == []
    assert not g.evidence  # a burst would wait as evidence; a tail does not
    g.on_log(tail(3, 10, burst=True), 0)
    assert list(g.evidence)
