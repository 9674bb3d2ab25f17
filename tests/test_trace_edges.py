"""Per-edge RED series: client spans joined to their server spans, windows, bounds."""

import math
import pickle

import pytest
from alertflow.operators.red_metrics import ServiceWindows
from alertflow.operators.trace_edges import EdgeCall, EdgeJoin, trace_shard
from alertflow.schemas.records import SpanEvent
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9
C1 = {"k8s.cluster.name": "c1"}


def sp(span_id, parent, service, kind, t, dur=0.1, error=False, attrs=None):
    return SpanEvent("t1", span_id, parent, service, "op", kind, int(t * S), int((t + dur) * S),
                     error, attrs or C1, f"traces:{span_id}")  # fmt: skip


def call(callee, t, dur=0.1, error=False, caller="web"):
    return EdgeCall(caller, callee, int(t * S), int(dur * S), error, C1, f"traces:{t}")


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        # client first, then its server span
        (
            [sp("a", "r", "web", "client", 1), sp("b", "a", "cart", "server", 1.01)],
            [("web", "cart")],
        ),
        # server first: it waits for its parent
        (
            [sp("b", "a", "cart", "server", 1.01), sp("a", "r", "web", "client", 1)],
            [("web", "cart")],
        ),
        # peer.service names the callee: no partner needed
        ([sp("a", "r", "web", "client", 1, attrs={**C1, "peer.service": "db"})], [("web", "db")]),
        # a call within one service is no edge
        ([sp("a", "r", "web", "client", 1), sp("b", "a", "web", "server", 1)], []),
        # internal spans and root server spans join nothing
        ([sp("a", "", "web", "server", 1), sp("c", "a", "web", "internal", 1)], []),
        # a refused call (client span, no server span) waits and never pairs
        ([sp("a", "r", "web", "client", 1, error=True)], []),
    ],
)
def test_join_table(spans, expected):
    assert [(c.service, c.callee) for c in EdgeJoin().add(spans)] == expected


def test_join_takes_the_callers_view_and_stays_bounded():
    join = EdgeJoin(max_pending=2)
    (c,) = join.add([sp("a", "r", "web", "client", 1, dur=0.5, error=True),
                     sp("b", "a", "cart", "server", 1.1, dur=0.2)])  # fmt: skip
    assert (c.duration_ns, c.is_error, c.ref) == (int(0.5 * S), True, "traces:a")
    join.add([sp(f"x{i}", "r", "web", "client", 2) for i in range(5)])
    assert len(join.clients) == 2 and join.unpaired == 3


@given(st.text(min_size=1, max_size=32), st.integers(1, 64))
def test_trace_shard_is_stable_and_in_range(trace_id, shards):
    span = SpanEvent(trace_id, "s", "", "cart", "GET", "server", 0, 1, False)
    key = trace_shard(span, shards)
    assert key == trace_shard(span, shards) and 0 <= int(key) < shards


def edge_values(samples):
    return {(s.name, s.labels.get("callee"), s.ts_ns // S): s.value for s in samples
            if s.name.startswith("alertflow_edge_")}  # fmt: skip


def test_edge_window_red_and_percentiles():
    w = ServiceWindows("web", "c1", window_s=60, lateness_s=0)
    durations = [0.01 * (i + 1) for i in range(100)]
    w.add([call("cart", 1 + i * 0.1, d, error=i < 5) for i, d in enumerate(durations)])
    out = edge_values(w.flush())
    assert out[("alertflow_edge_requests", "cart", 60)] == 100.0
    assert out[("alertflow_edge_errors_ratio", "cart", 60)] == 0.05
    assert math.isclose(
        out[("alertflow_edge_request_duration_p50_seconds", "cart", 60)], 0.5, rel_tol=0.01
    )
    assert math.isclose(
        out[("alertflow_edge_request_duration_p99_seconds", "cart", 60)], 0.99, rel_tol=0.01
    )


def test_edge_health_points_at_the_callee_and_its_rate_at_the_caller():
    w = ServiceWindows("web", "c1", window_s=60, lateness_s=0)
    w.add([call("cart", 1)])
    labels = {s.name: s.labels for s in w.flush()}
    edge = {"cluster": "c1", "caller": "web", "callee": "cart"}
    assert labels["alertflow_edge_errors_ratio"] == {**edge, "service": "cart"}
    assert labels["alertflow_edge_request_duration_p99_seconds"] == {**edge, "service": "cart"}
    assert labels["alertflow_edge_requests"] == {**edge, "service": "web"}  # the caller's traffic


def test_windows_without_calls_are_missing_not_zero():
    w = ServiceWindows("web", "c1", window_s=60, lateness_s=0)
    w.add([call("cart", 1)])
    out = edge_values(w.add([call("cart", 250)]))  # [60, 240) had no call
    assert set(out) == {(name, "cart", 60) for name in (
        "alertflow_edge_requests", "alertflow_edge_errors_ratio",
        "alertflow_edge_request_duration_p50_seconds", "alertflow_edge_request_duration_p99_seconds",
    )}  # fmt: skip


def test_edges_per_service_are_bounded():
    w = ServiceWindows("web", "c1", window_s=60, lateness_s=0, max_edges=3)
    w.add([call(f"svc{i}", 1 + i) for i in range(10)] + [call("svc0", 20)])
    callees = {s.labels["callee"] for s in w.flush() if s.name == "alertflow_edge_requests"}
    assert callees == {"svc0", "svc1", "svc2"} and w.edges_dropped == 7


def test_service_percentiles_only_for_windows_with_spans():
    w = ServiceWindows("cart", "c1", window_s=60, lateness_s=0)
    w.add([sp("b", "a", "cart", "server", 5, dur=0.2)])
    out = w.add([sp("c", "a", "cart", "server", 250, dur=0.2)])
    p99 = [s.ts_ns // S for s in out if s.name == "alertflow_request_duration_p99_seconds"]
    assert p99 == [60]  # the silent windows carry a zero request count only


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 179), st.floats(1e-4, 10)),
        min_size=1,
        max_size=60,
    )
)
def test_edge_counts_add_up_whatever_the_order(calls):
    w = ServiceWindows("web", "c1", window_s=60, lateness_s=1000)
    w.add([call(callee, t, d) for callee, t, d in calls])
    total = sum(s.value for s in w.flush() if s.name == "alertflow_edge_requests")
    assert total == len(calls)


@pytest.mark.parametrize(
    ("calls", "ref"),
    [
        ([(1, 0.1, False), (2, 0.9, False), (3, 0.2, False)], "traces:2"),  # the slowest
        ([(1, 0.1, False), (2, 0.9, False), (3, 0.2, True), (4, 0.3, True)], "traces:3"),
    ],
)
def test_edge_samples_point_at_a_failed_else_the_slowest_span(calls, ref):
    w = ServiceWindows("web", "c1", window_s=60, lateness_s=0)
    w.add([call("cart", t, d, e) for t, d, e in calls])
    refs = {s.ref for s in w.flush() if s.name.startswith("alertflow_edge_")}
    assert refs == {ref}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40))
def test_pickled_mid_stream_the_join_and_windows_go_on_the_same(cut):
    spans = []
    for i in range(20):
        t = 1 + i * 7
        spans += [sp(f"c{i}", "r", "web", "client", t, 0.01 * (i + 1), i % 5 == 0),
                  sp(f"s{i}", f"c{i}", "cart", "server", t + 0.001, 0.005)]  # fmt: skip

    def run(restore):
        join, w = EdgeJoin(), ServiceWindows("web", "c1", window_s=60, lateness_s=0)
        out = w.add(join.add(spans[:cut]))
        if restore:
            join, w = pickle.loads(pickle.dumps(join)), pickle.loads(pickle.dumps(w))
        out += w.add(join.add(spans[cut:])) + w.flush()
        return [(s.name, s.ts_ns, s.value, s.ref) for s in out]

    assert run(True) == run(False)
