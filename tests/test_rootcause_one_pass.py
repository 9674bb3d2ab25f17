"""The ranking's one-pass summaries give what the comprehensions they replaced gave."""

import math

from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.rootcause import _UNDATED, _per_service, _Signals
from hypothesis import given, settings
from hypothesis import strategies as st

KINDS = ("alert", "anomaly", "log", "span")
CHANGES = st.sampled_from([-1.0, 0.0, 0.3, 0.5, 2.0, math.inf, math.nan])


@st.composite
def members(draw: st.DrawFn) -> AlertMember:
    labels = {"alertname": "A", "service": draw(st.sampled_from(["web", "api", "kubelet"]))}
    m = AlertMember(str(draw(st.integers(0, 99))), labels, {}, draw(st.integers(0, 9)), 0,
                    "firing", kind=draw(st.sampled_from(KINDS)),
                    title=draw(st.sampled_from(["latency", "errors"])),
                    delta=draw(st.sampled_from([0.0, 1.0, 3.0])), change=draw(CHANGES),
                    shift=draw(st.sampled_from([None, 1.0])),
                    interval_ns=draw(st.integers(0, 3)))  # fmt: skip
    return m


def _old_signals(ms: list[AlertMember]) -> tuple:
    moves: dict[str, float] = {}
    for m in ms:
        if m.kind == "anomaly":
            moves[m.title] = max(moves.get(m.title, 0.0), m.delta)
    moved = max((m.change for m in ms if m.kind == "anomaly"), default=0.0)
    return moves, any(m.kind == "alert" for m in ms), moved


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@settings(max_examples=300, deadline=None)
@given(st.lists(members(), max_size=8))
def test_signals_of_a_service(ms: list[AlertMember]) -> None:
    moves, alerting, moved = _Signals.of(ms)
    old_moves, old_alerting, old_moved = _old_signals(ms)
    assert moves == old_moves and alerting == old_alerting and _same(moved, old_moved)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["web", "api", "db"]), st.lists(members(), min_size=1,
                                                                       max_size=5), min_size=1))
def test_per_service_summary(by_service: dict[str, list[AlertMember]]) -> None:
    infra, alerting, first, earliest, sampled, shifted, kinds = _per_service(by_service)
    assert kinds == {m.kind for ms in by_service.values() for m in ms}
    assert infra == {s for s, ms in by_service.items() if all(m.infra for m in ms)}
    assert alerting == {s for s, ms in by_service.items() if any(m.kind == "alert" for m in ms)}
    assert first == {
        s: min(m.first_ns for m in ([m for m in ms if m.kind not in _UNDATED] or ms))
        for s, ms in by_service.items()
    }
    assert sampled == max(m.interval_ns for ms in by_service.values() for m in ms)
    assert shifted == {s for s, ms in by_service.items() if any(m.shift is not None for m in ms)}
    for s, ms in by_service.items():
        alert, member, anomaly = earliest[s]
        assert member == min(m.first_ns for m in ms)
        alerts = [m.first_ns for m in ms if m.kind == "alert"]
        assert alert == (min(alerts) if alerts else math.inf)
        for at in range(-1, 11):  # "an anomaly no later than at", as the slack asks it
            assert (anomaly <= at) == any(m.kind == "anomaly" and m.first_ns <= at for m in ms)
