"""Issue 10, mode 7: an earlier fault still going when another begins keeps a place.

A slow leak that began 20 minutes before another fault shares that fault's alerts: at the
incident's start its change is small beside the later root's, and by onset and the graph it
ranks late. What moved most at an earlier start (``level_early_s`` before the incident's)
is named at ``level_early_place`` at the latest. A hand-made graph, alert sequence and
level book each.
"""

import math
import random
from dataclasses import replace

import pytest
from alertflow.operators.correlation.rank_levels import LevelBook
from alertflow.operators.correlation.rank_moves import WITHOUT_MOVES
from alertflow.operators.correlation.rootcause import rank_by_onset

from tests.test_rank_levels import alert, feed, graph

OFF = replace(WITHOUT_MOVES, level_early_s=math.inf)
ON = replace(OFF, level_early_s=900.0, level_early_min=2.0, level_early_place=3)

# web calls api; api calls cart, cache and db. cache fails 300 s before the first alert: web,
# api, cart and cache alert at once, their error ratios stepping far. db's memory has risen
# since 1,500 s before the first alert (a leak); its own alert fires 400 s after the others.
MEMBERS = [alert(s, 0) for s in ("web", "api", "cart", "cache")] + [alert("db", 400, "MemHigh")]
EDGES = (("web", "api"), ("api", "cart"), ("api", "cache"), ("api", "db"))
STEPS = {"web": 0.05, "api": 0.08, "cart": 0.06, "cache": 0.30}


def _book(leak_from_s: float | None) -> LevelBook:
    book = LevelBook()
    for i, (service, after) in enumerate(sorted(STEPS.items())):
        rng = random.Random(i)
        feed(book, service, "http_request_error_ratio",
             lambda t, k, a=after, r=rng: (0.01 if t < -300 else a) + r.gauss(0.0, 0.002))  # fmt: skip
    rng = random.Random(9)
    feed(book, "db", "process_resident_memory_bytes",
         lambda t, k: 100.0 + rng.gauss(0.0, 0.5)
         + (max(0.0, t - leak_from_s) * 0.01 if leak_from_s is not None else 0.0))  # fmt: skip
    return book


def _ranked(weights, leak_from_s=-1500.0):
    return rank_by_onset(MEMBERS, graph(*EDGES), weights=weights, levels=_book(leak_from_s))


def test_without_the_rule_the_earlier_leak_falls_out_of_the_first_three() -> None:
    assert "db" not in [c.service for c in _ranked(OFF)[:3]]


@pytest.mark.parametrize(
    ("weights", "leak_from_s", "place"),
    [
        pytest.param(ON, -1500.0, 2, id="the-leak-is-named-third"),
        pytest.param(replace(ON, level_early_place=2), -1500.0, 1, id="or-second"),
        pytest.param(replace(ON, level_early_min=1000.0), -1500.0, None, id="not-below-the-min"),
        pytest.param(ON, None, None, id="nothing-moved-early-nothing-named"),
    ],
)
def test_what_moved_first_keeps_a_place(weights, leak_from_s, place) -> None:
    off = [c.service for c in _ranked(OFF, leak_from_s)]
    ranked = _ranked(weights, leak_from_s)
    services = [c.service for c in ranked]
    assert sorted(services) == sorted(off)  # every service once, none lost or added
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)  # scores still fall
    if place is None:
        assert services == off
        return
    assert services[place] == "db"
    assert services[:place] == off[:place]  # the first places keep theirs
    assert any("an earlier fault still going" in e for e in ranked[place].evidence)


def test_the_defaults_name_the_leak() -> None:
    assert "db" in [c.service for c in _ranked(WITHOUT_MOVES)[:3]]
