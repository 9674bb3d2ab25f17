"""Issue 10, mode 7: the change at the incident's start read with the call graph.

A dependency of the first place that moved more at the start takes its place
(``level_below``); the members that moved most are kept among the first places
(``level_keep``). A hand-made graph, alert sequence and level book each.
"""

import random
from dataclasses import replace

import pytest
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.rank_moves import WITHOUT_MOVES
from alertflow.operators.correlation.rootcause import rank_by_onset

from tests.test_rank_levels import alert, feed, graph

OFF = replace(WITHOUT_MOVES, level_below=float("inf"), level_keep=0)


def step(at_s: float, before: float, after: float, noise: float, seed: int):
    rng = random.Random(seed)
    return lambda t, k: (before if t < at_s else after) + rng.gauss(0.0, noise)


def _book(**steps: tuple[float, float, float]) -> LevelBook:
    """Per service, an error ratio stepping from ``before`` to ``after`` 300 s before the alert."""
    book = LevelBook()
    for i, (service, (before, after, noise)) in enumerate(sorted(steps.items())):
        feed(book, service, "http_request_error_ratio", step(-300, before, after, noise, i))
    return book


# web calls api, api calls db. api and web alert at once; db's own alert comes 700 s later
# (past any `for:`), so by onset and the graph api leads and db is late. db moved about 3
# times as much as api at the start: far less than level_first's 20 times.
MEMBERS = [alert("web", 0), alert("api", 0), alert("db", 700)]
BOOK = dict(web=(0.01, 0.03, 0.004), api=(0.01, 0.05, 0.004), db=(0.01, 0.13, 0.004))


@pytest.mark.parametrize(
    ("edges", "weights", "first"),
    [
        pytest.param((("web", "api"), ("api", "db")), OFF, "api", id="off-onset-leads"),
        pytest.param(
            (("web", "api"), ("api", "db")),
            replace(OFF, level_below=1.0),
            "db",
            id="a-dependency-that-moved-more-leads",
        ),
        pytest.param(
            (("web", "api"), ("api", "db")),
            replace(OFF, level_below=5.0),
            "api",
            id="not-when-it-moved-less-than-the-ratio",
        ),
        pytest.param(
            (("web", "api"), ("db", "api")),
            replace(OFF, level_below=1.0),
            "api",
            id="a-caller-that-moved-more-does-not",
        ),
    ],
)
def test_level_below(edges, weights, first) -> None:
    ranked = rank_by_onset(MEMBERS, graph(*edges), weights=weights, levels=_book(**BOOK))
    assert ranked[0].service == first
    if first == "db":
        assert any("largest change" in e for e in ranked[0].evidence)


@pytest.mark.parametrize(
    ("keep", "least", "second"),
    [
        pytest.param(0, 5.0, "b", id="off"),
        pytest.param(1, 5.0, "d", id="the-largest-mover-is-named-second"),
        pytest.param(1, 100.0, "b", id="not-below-the-least-change"),
    ],
)
def test_level_keep(keep, least, second) -> None:
    # Four services alerting at once, unrelated: ties go by name. d moved 3 times as much as
    # a at the start (not enough to lead), b and c hardly.
    members = [alert(s, 0) for s in "abcd"]
    book = _book(
        a=(0.01, 0.05, 0.004), b=(0.01, 0.011, 0.004), c=(0.01, 0.011, 0.004),
        d=(0.01, 0.13, 0.004),
    )  # fmt: skip
    weights = replace(OFF, level_keep=keep, level_keep_min=least)
    ranked = [c.service for c in rank_by_onset(members, graph(), weights=weights, levels=book)]
    assert ranked[0] == "a" and ranked[1] == second
    assert sorted(ranked) == ["a", "b", "c", "d"]
