"""A new first cause is shown only once it has led a while (alertflow demo's CAUSE lines).

Table-driven: the rankings of one incident at successive event times, and the first cause
each version shows.
"""

import pytest
from alertflow.operators.correlation.incident_render import held
from alertflow.operators.correlation.incident_state import IncidentState
from alertflow.operators.correlation.rootcause import Candidate

S = 10**9


def _state() -> IncidentState:
    state = IncidentState("i", "d", opened_ns=0, updated_ns=0, last_activity_ns=0, last_onset_ns=0)
    state.notified = True  # paged: its first cause was read
    return state


def _ranking(*services: str) -> list[Candidate]:
    return [Candidate(s, 1.0 - i / 10, ()) for i, s in enumerate(services)]


@pytest.mark.parametrize(
    ("steps", "shown"),
    [
        pytest.param(
            # The demo's incident 54a2f009: api-gateway, mysql-users, back, mysql-users again.
            [(0, "api-gateway"), (543, "mysql-users"), (606, "api-gateway"), (825, "mysql-users"),
             (900, "mysql-users"), (1200, "mysql-users")],
            ["api-gateway", "api-gateway", "api-gateway", "api-gateway", "api-gateway",
             "mysql-users"],
            id="flips-within-the-hold-show-one-change",
        ),
        pytest.param(
            [(0, "a"), (400, "b"), (500, "b"), (800, "b")],
            ["a", "a", "a", "b"],
            id="a-new-leader-that-keeps-the-lead-is-shown",
        ),
        pytest.param(
            [(0, "a"), (400, "b"), (500, "a"), (750, "b"), (900, "b")],
            ["a", "a", "a", "a", "a"],
            id="losing-the-lead-restarts-the-wait",
        ),
        pytest.param(
            [(0, "a"), (10, "b"), (400, "a")],
            ["a", "b", "b"],
            id="a-first-cause-read-for-moments-is-not-held",
        ),
    ],
)
def test_first_cause_held(steps, shown) -> None:
    state = _state()
    seen = []
    for at, lead in steps:
        state.updated_ns = at * S
        ranking = _ranking(lead, *sorted({"a", "b", "api-gateway", "mysql-users"} - {lead}))
        first = held(state, ranking, hold_s=300.0)
        assert held(state, ranking, hold_s=300.0) == first  # the headline, then the version
        assert sorted(c.service for c in first) == sorted(c.service for c in ranking)
        seen.append(first[0].service)
    assert seen == shown


def test_before_its_page_and_once_resolved_an_incident_shows_its_ranking() -> None:
    state = _state()
    state.notified = False
    held(state, _ranking("a", "b"), hold_s=300.0)
    state.updated_ns = 400 * S
    assert held(state, _ranking("b", "a"), hold_s=300.0)[0].service == "b"
    state = _state()
    held(state, _ranking("a", "b"), hold_s=300.0)
    state.updated_ns = 400 * S
    assert held(state, _ranking("b", "a"), hold_s=300.0)[0].service == "a"
    state.resolved_ns = 450 * S
    assert held(state, _ranking("b", "a"), hold_s=300.0)[0].service == "b"
    assert held(state, _ranking("b", "a"), hold_s=0.0)[0].service == "b"


def test_a_leader_that_clearly_outscores_the_shown_one_is_shown_at_once() -> None:
    state = _state()
    held(state, _ranking("a", "b"), hold_s=300.0)
    state.updated_ns = 400 * S
    close = [Candidate("b", 1.0, ()), Candidate("a", 0.9, ())]
    assert held(state, close, hold_s=300.0)[0].service == "a"
    clear = [Candidate("b", 1.0, ()), Candidate("a", 0.5, ())]
    assert held(state, clear, hold_s=300.0)[0].service == "b"
