"""The deepest failing span per trace (operators.span_faults): table tests and properties."""

import random
from dataclasses import replace

import pytest
from alertflow.operators.correlation.alert_dedup import AlertMember
from alertflow.operators.correlation.correlator import DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.correlation.rootcause import rank_by_onset
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.intake import parse_ref
from alertflow.operators.span_faults import (
    SpanFaultFinder,
    SpanFaultSettings,
    apply_span,
    signals_of,
    trace_verdicts,
)
from alertflow.schemas.decoders import decode_stream
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.jsoncodec import dumps
from alertflow.schemas.records import AlertEvent, SpanEvent
from hypothesis import given, settings
from hypothesis import strategies as st

MS = 10**6
S = 10**9


def span(
    sid: str,
    parent: str,
    service: str,
    kind: str = "server",
    error: bool = False,
    ms: int = 10,
    name: str = "",
    trace: str = "t1",
    start_ms: int = 0,
    **attrs: str,
) -> SpanEvent:
    """A span of ``ms`` milliseconds; a client span is named after what it calls."""
    start = start_ms * MS
    return SpanEvent(trace, sid, parent, service, name or f"{service} op", kind, start,
                     start + ms * MS, error, dict(attrs), f"traces.jsonl:{sid}")  # fmt: skip


def call(caller_sid: str, sid: str, caller: str, callee: str, error: bool, ms: int = 10,
         trace: str = "t1", start_ms: int = 0, **attrs: str) -> SpanEvent:  # fmt: skip
    return span(sid, caller_sid, caller, "client", error, ms, f"call {callee}", trace, start_ms,
                **attrs)  # fmt: skip


def chain(errors: dict[str, bool], trace: str = "t1", start_ms: int = 0) -> list[SpanEvent]:
    """web -> cart -> db, each call a client span wrapping the callee's server span."""
    e = errors
    return [
        span("w", "", "web", error=e.get("w", False), trace=trace, start_ms=start_ms),
        call("w", "wc", "web", "cart", e.get("wc", False), trace=trace, start_ms=start_ms),
        span("c", "wc", "cart", error=e.get("c", False), trace=trace, start_ms=start_ms),
        call("c", "cd", "cart", "db", e.get("cd", False), trace=trace, start_ms=start_ms),
        span("d", "cd", "db", error=e.get("d", False), trace=trace, start_ms=start_ms),
    ]


def judge(spans: list[SpanEvent], finder: SpanFaultFinder | None = None) -> list[tuple]:
    finder = finder or SpanFaultFinder()
    faults = finder.add(spans) + finder.flush()
    return [(f.service, f.span_id, f.callers) for f in faults]


ALL_FAIL = dict.fromkeys(("w", "wc", "c", "cd", "d"), True)


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ({}, []),  # nothing failed
        (ALL_FAIL, [("db", "d", ("cart", "web"))]),  # the error climbed from db
        ({"w": True, "wc": True, "c": True}, [("cart", "c", ("web",))]),  # cart's own error
        ({"w": True}, [("web", "w", ())]),  # web failed with healthy calls below
        ({"d": True}, [("db", "d", ())]),  # cart swallowed db's error
        ({"c": True, "cd": True, "d": True}, [("db", "d", ("cart",))]),  # web swallowed it
    ],
)
def test_the_deepest_failing_span_of_a_chain(errors: dict, expected: list) -> None:
    assert judge(chain(errors)) == expected


def test_two_failing_branches_give_two_faults() -> None:
    spans = [
        span("w", "", "web", error=True),
        call("w", "wc", "web", "cart", True),
        span("c", "wc", "cart", error=True),
        call("w", "wp", "web", "pay", True, start_ms=20),
        span("p", "wp", "pay", error=True, start_ms=20),
    ]
    assert judge(spans) == [("cart", "c", ("web",)), ("pay", "p", ("web",))]


def test_a_refused_call_is_the_callee_s_fault_learned_from_earlier_calls() -> None:
    finder = SpanFaultFinder()
    judge(chain({}, trace="ok"), finder)  # teaches: cart's "call db" reaches db
    refused = chain({"w": True, "wc": True, "c": True, "cd": True})[:4]  # db sent no span
    faults = finder.add(refused) + finder.flush()
    assert [(f.service, f.span_service, f.span_id) for f in faults] == [("db", "cart", "cd")]
    assert "(call from cart)" in faults[0].describe()


def test_a_refused_call_names_the_peer_service_when_the_caller_does() -> None:
    spans = [span("w", "", "web", error=True), call("w", "wx", "web", "x", True, **{
        "peer.service": "search"})]  # fmt: skip
    assert judge(spans) == [("search", "wx", ("web",))]


def test_a_refused_call_to_an_unknown_callee_stays_with_the_caller() -> None:
    spans = [span("w", "", "web", error=True), call("w", "wx", "web", "x", True)]
    assert judge(spans) == [("web", "wx", ())]


def test_a_latency_outlier_fails_its_span_once_the_operation_has_a_p99() -> None:
    finder = SpanFaultFinder(SpanFaultSettings(min_samples=20, wait_s=0))
    for i in range(30):  # normal: every span 10 ms
        judge(chain({}, trace=f"n{i}", start_ms=i * 1000), finder)
    slow = [
        span("w", "", "web", ms=900, trace="slow", start_ms=40_000),
        call("w", "wc", "web", "cart", False, ms=890, trace="slow", start_ms=40_000),
        span("c", "wc", "cart", ms=880, trace="slow", start_ms=40_000),
        call("c", "cd", "cart", "db", False, ms=870, trace="slow", start_ms=40_000),
        span("d", "cd", "db", ms=860, trace="slow", start_ms=40_000),
    ]
    faults = finder.add(slow) + finder.flush()
    assert [(f.service, f.span_id, f.callers) for f in faults] == [("db", "d", ("cart", "web"))]
    assert 10 * MS < faults[0].slow_over_ns < 860 * MS and not faults[0].error
    assert "status ok, 0.86s" in faults[0].describe()


def test_latency_is_not_judged_before_min_samples() -> None:
    finder = SpanFaultFinder(SpanFaultSettings(min_samples=20))
    for i in range(5):
        judge(chain({}, trace=f"n{i}"), finder)
    assert judge([span("d", "", "db", ms=5000, trace="slow")], finder) == []


def test_a_trace_waits_for_its_late_spans_then_is_judged() -> None:
    finder = SpanFaultFinder(SpanFaultSettings(wait_s=30))
    spans = chain(ALL_FAIL)
    assert finder.add(spans[:2]) == []  # web's spans; cart's and db's are still to come
    assert finder.add(spans[2:]) == []
    later = span("x", "", "web", trace="t2", start_ms=31_000)
    assert [(f.service, f.span_id) for f in finder.add([later])] == [("db", "d")]


def test_pending_traces_are_bounded() -> None:
    finder = SpanFaultFinder(SpanFaultSettings(max_traces=3))
    for i in range(10):
        finder.add([span("w", "", "web", error=True, trace=f"t{i}")])
    assert len(finder.traces) <= 3


def _member(spans: list[SpanEvent]) -> AlertMember:
    finder = SpanFaultFinder()
    member = None
    for signal in signals_of(finder.add(spans) + finder.flush()):
        member, _ = apply_span(member, signal)
    assert member is not None
    return member


def test_the_member_names_its_span_and_counts_its_callers() -> None:
    faults = chain(ALL_FAIL) + chain(ALL_FAIL, trace="t2")
    member = _member(faults)
    assert (member.kind, member.service, member.count) == ("span", "db", 2)
    assert member.labels["trace_id"] == "t1" and member.labels["span_id"] == "d"
    assert member.refs == ["traces.jsonl:d"]  # a message position, as parse_ref reads it
    assert trace_verdicts({"db": [member]})["cart"].because_of == {"db": 2}


def _alert(service: str, at_s: int) -> AlertMember:
    labels = {"service": service, "alertname": f"{service}Errors", "severity": "critical"}
    return AlertMember(f"a-{service}", labels, {}, at_s * S, at_s * S, "firing")


# Alerts on the callers only; the trace faults are what names db. Each row: the alerts'
# services and onsets (s), the graph's edges, then the expected first cause.
RANKING_CASES = [
    ([("web", 0), ("cart", 0)], [("web", "cart"), ("cart", "db")], "db"),
    ([("cart", 0), ("web", 30)], [("web", "cart"), ("cart", "db")], "db"),
    ([("web", 0), ("cart", 0)], [], "db"),  # no call graph: the traces alone
]


@pytest.mark.parametrize(("alerts", "edges", "first"), RANKING_CASES)
def test_ranking_points_at_the_deepest_failing_span(
    alerts: list[tuple[str, int]], edges: list[tuple[str, str]], first: str
) -> None:
    graph = ServiceGraph()
    graph.add_static(edges)
    members = [_alert(s, t) for s, t in alerts] + [_member(chain(ALL_FAIL))]
    causes = rank_by_onset(members, graph)
    assert causes[0].service == first
    assert any("trace t1 span d: db" in line for line in causes[0].evidence)
    cart = next(c for c in causes if c.service == "cart")
    assert any("because a call below failed: db (1)" in line for line in cart.evidence)


def test_without_trace_faults_the_ranking_stays_with_the_alerts() -> None:
    graph = ServiceGraph()
    graph.add_static([("web", "cart"), ("cart", "db")])
    causes = rank_by_onset([_alert("cart", 0), _alert("web", 30)], graph)
    assert [c.service for c in causes] == ["cart", "web"]


def test_a_service_failing_on_its_own_is_not_made_a_symptom_by_one_trace() -> None:
    own = [_member(chain({"w": True, "wc": True, "c": True}, trace=f"c{i}")) for i in range(3)]
    below = _member(chain(ALL_FAIL, trace="d1"))
    verdicts = trace_verdicts({"cart": own[:1], "db": [below]})
    assert verdicts["cart"].own == 1 and verdicts["cart"].because_of == {"db": 1}
    causes = rank_by_onset([_alert("cart", 0), *own, below])
    assert causes[0].service == "cart"


T0 = 1_795_600_800 * S  # 2026-11-25T10:00:00Z


def _alert_event(service: str, at_s: int) -> AlertEvent:
    labels = {"service": service, "alertname": f"{service}Errors", "severity": "critical"}
    return AlertEvent(f"a-{service}", "firing", labels, {}, T0 + at_s * S, None,
                      ref=f"alerts.jsonl:{at_s}")  # fmt: skip


def _failing_traces(n: int, from_s: int) -> list[SpanEvent]:
    """``n`` traces a second apart where db's error climbs through cart to web."""
    out = []
    for i in range(n):
        spans = chain(ALL_FAIL, trace=f"{i:032x}", start_ms=(T0 // MS) + (from_s + i) * 1000)
        out += [
            replace(
                sp,
                span_id=f"{i:015x}{sp.span_id}",
                parent_span_id=f"{i:015x}{sp.parent_span_id}" if sp.parent_span_id else "",
                attributes={"k8s.cluster.name": "c"},
                ref=f"traces.jsonl:{i}",
            )
            for sp in spans
        ]
    return out


@pytest.mark.parametrize("span_faults", [True, False])
def test_the_correlator_ranks_the_deepest_failing_span_s_service_first(span_faults: bool) -> None:
    """Alerts only on the callers; with trace faults db leads, its span named as evidence."""
    correlator = DomainCorrelator(
        "c",
        IncidentSettings(lateness_s=60.0),
        static_edges=[("web", "cart"), ("cart", "db")],
        span_faults=SpanFaultSettings(wait_s=5) if span_faults else None,
    )
    events = [*_failing_traces(4, 0), _alert_event("cart", 10), _alert_event("web", 20)]
    out = correlator.on_events(events, wall_ns=0) + correlator.finish(wall_ns=0)
    incident = [d.record for d in out if d.stream == "incidents"][-1]
    causes = [c.service for c in incident.root_causes]
    if not span_faults:
        assert "db" not in causes and all(m.kind == "alert" for m in incident.members)
        return
    assert causes[0] == "db"
    (member,) = [m for m in incident.members if m.kind == "span"]
    assert member.service == "db" and member.count == 4
    span_id = member.labels["span_id"]
    assert span_id.endswith("d") and member.labels["trace_id"] == f"{0:032x}"
    assert any(f"span {span_id}: db" in e for e in incident.root_causes[0].evidence)
    state = next(iter(correlator.grouper.incidents.values()), None)
    refs = state.members[member.id].refs if state else ["traces.jsonl:0"]
    assert all(parse_ref(r)[2] is not None for r in refs)  # still message positions


# ---------------------------------------------------------------- properties

ids = st.sampled_from(["a", "b", "c", "d", "e", "", "a"])
spans_st = st.lists(
    st.builds(
        SpanEvent,
        trace_id=st.sampled_from(["t1", "t2"]),
        span_id=ids,
        parent_span_id=ids,
        service=st.sampled_from(["web", "cart", "db"]),
        name=st.sampled_from(["GET /", "call db"]),
        kind=st.sampled_from(["server", "client", "internal", "producer", "consumer", ""]),
        start_ns=st.integers(-(10**12), 10**12),
        end_ns=st.integers(-(10**12), 10**12),
        is_error=st.booleans(),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(spans_st, st.randoms(use_true_random=False))
def test_any_span_soup_is_judged_without_error_in_any_order_within_a_trace(
    spans: list, rnd: random.Random
) -> None:
    """Cycles, self-parents, duplicate and empty ids, negative durations: faults, no hang."""
    faults = judge(spans)
    # Within a trace, arrival order is free; across traces, what one teaches (who answers a
    # call) may name the callee of a later one, so traces keep their order.
    groups: dict[str, list] = {}
    for sp in spans:
        groups.setdefault(sp.trace_id, []).append(sp)
    shuffled = []
    for group in groups.values():
        rnd.shuffle(group)
        shuffled += group
    by_trace = {s.trace_id for s in spans}
    assert len({(f[1]) for f in faults}) <= len({(s.trace_id, s.span_id) for s in spans})
    if len({(s.trace_id, s.span_id) for s in spans}) == len(spans):  # no id given twice
        assert sorted(judge(shuffled)) == sorted(faults)
    for service, _, callers in faults:
        assert service not in callers and len(set(callers)) == len(callers)
    assert len(by_trace) <= 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=5, max_size=5))
def test_a_chain_s_fault_has_no_failing_child_and_its_callers_failed(flags: list) -> None:
    errors = dict(zip(("w", "wc", "c", "cd", "d"), flags, strict=True))
    order = ["w", "wc", "c", "cd", "d"]
    for service, sid, callers in judge(chain(errors)):
        assert errors[sid]
        below = order[order.index(sid) + 1 :]
        assert not errors.get(below[0], False) if below else True
        assert service in ("web", "cart", "db")
        assert all(c in ("web", "cart") for c in callers)


otlp_span = st.fixed_dictionaries(
    {
        "traceId": st.sampled_from(["", "0" * 32, "4bf92f3577b34da6a3ce929d0e0e4736", "x"]),
        "spanId": st.sampled_from(["", "00f067aa0ba902b7", "00f067aa0ba902b8", "zz"]),
        "parentSpanId": st.sampled_from(["", "00f067aa0ba902b7", "00f067aa0ba902b8"]),
        "name": st.text(max_size=8),
        "kind": st.one_of(st.integers(-1, 7), st.sampled_from(["SPAN_KIND_CLIENT", "server"])),
        "startTimeUnixNano": st.one_of(st.integers(-5, 10**19).map(str), st.integers(0, 10**12)),
        "endTimeUnixNano": st.one_of(st.integers(-5, 10**19).map(str), st.just("nan")),
        "status": st.fixed_dictionaries(
            {"code": st.one_of(st.integers(-1, 3), st.text(max_size=3))}
        ),
    },
    optional={"attributes": st.just([{"key": "peer.service", "value": {"stringValue": "db"}}])},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(otlp_span, max_size=6), st.sampled_from(["web", "", "db"]))
def test_otlp_spans_from_outside_decode_or_fail_cleanly_then_judge(
    spans: list, service: str
) -> None:
    """What the decoder lets through, the finder judges; what it rejects is a DecodeError."""
    payload = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": spans}],
    }]}  # fmt: skip
    try:
        events = decode_stream("traces", dumps(payload), "traces.jsonl:1")
    except DecodeError:
        return
    finder = SpanFaultFinder(SpanFaultSettings(wait_s=0))
    faults = finder.add(events) + finder.flush()
    by_id = {(e.trace_id, e.span_id) for e in events}
    assert all((f.trace_id, f.span_id) in by_id and f.duration_ns >= 0 for f in faults)
    assert all(parse_ref(f.ref) == ("traces.jsonl", None, 1) for f in faults)
