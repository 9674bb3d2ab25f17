"""EventTimeOrder releases what a heap of every event would: its no-heap path changes nothing."""

import heapq

from alertflow.operators.correlation.reorder import EventTimeOrder
from alertflow.operators.eventclock import EventClock
from hypothesis import given, settings
from hypothesis import strategies as st


def _through_the_heap(lateness_ns: int, events: list[tuple[int, int]]) -> list[list[int]]:
    """Every event pushed and released by the watermark: the order before the shortcut."""
    clock, held, out = EventClock(lateness_ns), [], []
    for seq, (event_ns, wall_ns) in enumerate(events):
        clock.observe(event_ns, wall_ns)
        heapq.heappush(held, (event_ns, (), seq, seq))
        watermark = clock.watermark(wall_ns)
        due = []
        while held and held[0][0] <= watermark:
            due.append(heapq.heappop(held)[3])
        out.append(due)
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 50),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 100)), max_size=40),
)
def test_releases_as_through_the_heap(lateness_ns: int, events: list[tuple[int, int]]) -> None:
    order: EventTimeOrder[int] = EventTimeOrder(lateness_ns=lateness_ns)
    released = [order.add(e, (), seq, wall_ns=w) for seq, (e, w) in enumerate(events)]
    assert released == _through_the_heap(lateness_ns, events)


def test_in_order_without_lateness_each_event_is_due_at_once() -> None:
    order: EventTimeOrder[str] = EventTimeOrder(lateness_ns=0)
    released = [order.add(t, (), str(t), wall_ns=0) for t in (1, 2, 2, 5)]
    assert released == [["1"], ["2"], ["2"], ["5"]]
    assert order.add(3, (), "late", wall_ns=0) == ["late"]  # behind the watermark: at once
    assert len(order) == 0
