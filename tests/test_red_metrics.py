from alertflow.operators.red_metrics import ServiceWindows, cluster_of, service_key
from alertflow.schemas.records import LogEvent, SpanEvent

S = 10**9


def span(t, dur=0.1, error=False, kind="server", service="cart"):
    return SpanEvent(
        "t",
        "s",
        "",
        service,
        "GET /",
        kind,
        t * S,
        int((t + dur) * S),
        error,
        {"k8s.cluster.name": "c1"},
        f"traces:{t}",
    )


def log(t, level="error"):
    return LogEvent(t * S, "cart", level, "boom", {"cluster": "c1"}, ref=f"logs:{t}")


def values(samples):
    return {(s.name, s.labels.get("level"), s.ts_ns // S): s.value for s in samples}


def test_window_closes_when_the_watermark_passes_its_end():
    w = ServiceWindows("cart", "c1", window_s=60, lateness_s=10)
    assert w.add([span(5), span(20, error=True, dur=0.3), span(30, kind="client")]) == []
    assert w.add([span(65)]) == []  # watermark 55 < 60
    out = values(w.add([span(71)]))  # watermark 61
    p50 = out.pop(("alertflow_request_duration_p50_seconds", None, 60))
    p99 = out.pop(("alertflow_request_duration_p99_seconds", None, 60))
    assert out == {
        ("alertflow_requests", None, 60): 2.0,
        ("alertflow_request_errors_ratio", None, 60): 0.5,
        ("alertflow_request_duration_mean_seconds", None, 60): 0.2,
    }
    # Of two, both ranks floor(q * 1) are the lower one; the sketch is within 1% of it.
    assert abs(p50 - 0.1) <= 0.001 and abs(p99 - 0.1) <= 0.001


def test_log_levels_are_counted_per_window():
    w = ServiceWindows("cart", "c1", window_s=60, lateness_s=0)
    w.add([log(1), log(2), log(3, "info")])
    out = values(w.flush())
    assert out == {
        ("alertflow_log_lines", "error", 60): 2.0,
        ("alertflow_log_lines", "info", 60): 1.0,
    }


def test_late_events_are_counted_not_emitted_twice():
    w = ServiceWindows("cart", "c1", window_s=60, lateness_s=0)
    w.add([span(5)])
    w.add([span(130)])  # closes [0, 60) and [60,120) would be silent
    w.add([span(10)])
    assert w.late == 1


def test_silent_windows_show_up_as_zero_requests():
    w = ServiceWindows("cart", "c1", window_s=60, lateness_s=0)
    w.add([span(5)])
    out = values(w.add([span(250)]))
    assert out[("alertflow_requests", None, 120)] == 0.0
    assert out[("alertflow_requests", None, 180)] == 0.0
    assert out[("alertflow_requests", None, 240)] == 0.0  # samples carry their window's end
    assert ("alertflow_requests", None, 300) not in out  # [240, 300) is still open


def test_idle_wall_time_closes_windows():
    w = ServiceWindows("cart", "c1", window_s=60, lateness_s=0)
    w.add([span(5)], wall_ns=0)
    due = w.next_close_wall()
    assert due == 55 * S
    assert w.on_tick(due - 1) == []
    assert values(w.on_tick(due))[("alertflow_requests", None, 60)] == 1.0


def test_keys_name_cluster_and_service():
    assert service_key(span(0)) == "c1/cart"
    assert cluster_of(LogEvent(0, "x", "info", "m"), "default") == "default"
