import copy
import math
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alertflow.operators.correlation.alert_dedup import Change
from alertflow.operators.log_patterns import (
    LogPatternError,
    LogPatterns,
    LogPatternSettings,
    LogSignal,
    apply_log,
    burst_score,
    mask,
)
from alertflow.operators.simulate.logs import _CALLER, _INFO, _OOM, _ROOT, _WARN, _fill
from alertflow.schemas.records import LogEvent
from hypothesis import given, settings
from hypothesis import strategies as st

S = 10**9
OPS = ("GET /cart", "POST /cart")
# "unhandled exception in {op}: IllegalStateException id={req}"
ROOT_ERROR = _ROOT["error_spike"][1]


def line(t_s, message, level="warn", service="cart"):
    return LogEvent(round(t_s * S), service, level, message, {"cluster": "c1"}, ref=f"logs:{t_s}")


def fill(rng, template):
    return _fill(rng, template, op=rng.choice(OPS), via="payments")


def chatter(seed, start_min, minutes, warn_per_min=3.0, info_per_min=20.0):
    """Steady INFO and WARN lines from the simulator's templates, ordered by time."""
    rng, counts = random.Random(seed), np.random.default_rng(seed)
    out = []
    for minute in range(start_min, start_min + minutes):
        for level, templates, rate in (
            ("info", _INFO, info_per_min),
            ("warn", _WARN, warn_per_min),
        ):
            for _ in range(counts.poisson(rate)):
                t = minute * 60 + rng.random() * 60
                out.append(line(t, fill(rng, rng.choice(templates)), level))
    return sorted(out, key=lambda e: e.ts_ns)


def feed(lp, events, batch=1):
    """Signals, each with the index of the line whose batch produced it."""
    out = []
    for i in range(0, len(events), batch):
        out += [(i + batch - 1, s) for s in lp.on_logs(events[i : i + batch])]
    return out


# --- masking and grouping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("slow GET /cart: took 123ms", "slow GET /cart: took <*>"),
        ("retrying POST /cart after transient failure (attempt 2/3)",
         "retrying POST /cart after transient failure (attempt <*>)"),
        ("dial tcp 10.3.4.5:5432: connect: connection refused (payments)",
         "dial tcp <*>: connect: connection refused (payments)"),
        ("upstream payments returned 500 for request a3f90c12be45",
         "upstream payments returned <*> for request <*>"),
        ("order f47ac10b-58cc-4372-a567-0e02b2c3d479 done", "order <*> done"),
        ("GC overhead high: 87% time in GC, heap 4000MB",
         "GC overhead high: <*> time in GC, heap <*>"),
        ("at 2026-11-25T10:00:00Z took 1.5s, retry in 2m30s", "at <*> took <*>, retry in <*>"),
        ("segfault at 0x7ffe3a2b id=77", "segfault at <*> id=<*>"),
        ("calling auth-2 via v1.2 from x86_64", "calling auth-2 via v1.2 from x86_64"),
        ("cafebabe deadbeef facade", "cafebabe deadbeef facade"),
        ("temperature -5 degrees", "temperature <*> degrees"),
    ],
)  # fmt: skip
def test_mask(raw, masked):
    assert mask(raw) == masked


def test_each_simulator_template_is_one_template():
    templates = [*_WARN, *(t for _, t in _ROOT.values()), *_CALLER.values(), _OOM]
    rng = random.Random(7)
    lp = LogPatterns("c1", "cart")
    lines = [(t, fill(rng, t)) for t in templates for _ in range(40)]
    rng.shuffle(lines)
    lp.on_logs([line(i, message) for i, (_, message) in enumerate(lines)])
    ids = {}
    for template, message in lines:
        ids.setdefault(template, set()).add(lp.template_of(message))
    assert all(len(found) == 1 and None not in found for found in ids.values())
    assert len({next(iter(found)) for found in ids.values()}) == len(templates)
    assert lp.template_of(fill(rng, ROOT_ERROR))[1] == (
        "unhandled exception in <*> <*>: IllegalStateException id=<*>"  # method and path
    )


def test_info_and_debug_lines_are_not_mined():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0))
    events = [line(i, "boom 1", level) for i, level in enumerate(["info", "debug", "trace"] * 5)]
    assert lp.on_logs(events) == []
    assert lp.templates == {}


@pytest.mark.parametrize(
    ("level", "expected"),
    [("warn", "warning"), ("WARNING", "warning"), ("error", "error"), ("fatal", "critical"),
     ("Critical", "critical")],
)  # fmt: skip
def test_levels(level, expected):
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0))
    signals = lp.on_logs([line(i, "disk full on /dev/sda1", level) for i in range(3)])
    assert [s.level for s in signals] == [expected]


# --- burst judgement ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_steady_chatter_makes_no_signal(seed):
    lp = LogPatterns("c1", "cart")
    events = chatter(seed, 0, 6 * 60)
    # A rare WARN first seen long after the warm-up is not a burst either.
    rare = random.Random(seed)
    events += [
        line(m * 60 + 7, f"config drift on key k{rare.randint(1, 9)}") for m in range(90, 360, 17)
    ]
    events.sort(key=lambda e: e.ts_ns)
    assert feed(lp, events, batch=64) == []
    assert lp.flush() == []


def test_burst_signals_at_once_then_at_most_once_per_bucket():
    lp = LogPatterns("c1", "cart", LogPatternSettings(novelty=False))
    rng = random.Random(3)
    burst = [line(3600 + 5 * i, fill(rng, ROOT_ERROR), "error") for i in range(60)]  # 5 minutes
    events = sorted(chatter(4, 0, 60) + burst + chatter(5, 65, 30), key=lambda e: e.ts_ns)
    out = feed(lp, events) + [(len(events), s) for s in lp.flush()]
    assert out, "the burst made no signal"
    first_at, first = out[0]
    assert events[first_at] is burst[2]  # the third line of a new template, not later
    assert (first.count, first.first_ns, first.last_ns) == (3, burst[0].ts_ns, burst[2].ts_ns)
    assert (first.level, first.baseline) == ("error", 0.0)
    assert first.template.startswith("unhandled exception in ")
    assert first.template.endswith(" <*>: IllegalStateException id=<*>")
    assert first.fingerprint == f"log:c1/cart:{first.template_id}"
    signals = [s for _, s in out]
    assert {s.template_id for s in signals} == {first.template_id}
    assert len(signals) <= 1 + 5  # the start, then one refresh per bucket
    assert sum(s.count for s in signals) == len(burst)
    assert {s.first_ns for s in signals} == {burst[0].ts_ns}
    assert signals[-1].last_ns == burst[-1].ts_ns and signals[-1].ref == burst[-1].ref


@pytest.mark.parametrize(
    "storm",
    [
        lambda rng: f"timeout {rng.randint(5, 900)}ms {rng.choice(['10.0.0.7', '10.0.3.9'])}:5432",
        lambda rng: (
            f"{rng.randint(1, 99)} {rng.randint(100, 999)}ms 10.0.{rng.randint(0, 9)}.7:5432"
        ),
        lambda rng: f"upstream postgres at 10.0.0.7:5432 timed out after {rng.randint(5, 900)}ms",
    ],
    ids=["mostly-parameters", "only-parameters", "wordy"],
)
def test_a_storm_of_mostly_parameter_lines_after_warm_up_is_a_burst(storm):
    lp = LogPatterns("c1", "cart")
    rng = random.Random(8)
    lines = [line(3600 + 1.5 * i, storm(rng), "error") for i in range(70)]
    before = chatter(6, 0, 60)
    assert feed(lp, before, batch=32) == []
    known = set(lp.templates)
    signals = lp.on_logs(lines) + lp.flush()
    assert signals, "the storm made no signal"
    assert {s.template_id for s in signals} == set(lp.templates) - known  # one new template
    assert sum(s.count for s in signals) == len(lines)
    assert signals[0].level == "error" and signals[0].count == 1  # new at error: its first line


def test_a_storm_of_new_words_where_the_warm_up_had_one_is_still_a_burst():
    # During warm-up the user was always "admin" (a settled word); the storm's users differ,
    # so they found one new template, which takes every other user as a parameter.
    lp = LogPatterns("c1", "cart")
    rng = random.Random(9)
    warm = [line(60 * m + 5, "authentication failed for user admin from vpn") for m in range(60)]
    assert feed(lp, sorted(chatter(6, 0, 60) + warm, key=lambda e: e.ts_ns), batch=32) == []
    users = ["".join(rng.choice("abcdefghijklmnop") for _ in range(6)) for _ in range(70)]
    storm = [line(3600 + i, f"authentication failed for user {u} from vpn", "error")
             for i, u in enumerate(users)]  # fmt: skip
    signals = lp.on_logs(storm) + lp.flush()
    assert len({s.template_id for s in signals}) == 1
    assert signals[-1].template == "authentication failed for user <*> from vpn"
    assert sum(s.count for s in signals) == len(storm)


@pytest.mark.parametrize(("level", "novel"), [("error", True), ("fatal", True), ("warn", False)])
def test_a_template_new_after_warm_up_at_error_level_is_a_novelty(level, novel):
    lp = LogPatterns("c1", "cart")
    assert feed(lp, chatter(7, 0, 30), batch=32) == []
    lines = [line(1800 + 5 * i, f"disk quota exceeded on volume v{i}x", level) for i in range(2)]
    out = lp.on_logs(lines)  # the first line signals at once; the second waits for the bucket
    assert len(out) == novel
    if novel:
        assert (out[0].count, out[0].first_ns, out[0].baseline) == (1, lines[0].ts_ns, 0.0)
        assert out[0].template == "disk quota exceeded on volume v0x"
        [refresh] = lp.advance(1900 * S)  # its bucket closed: the second line, then it ends
        assert refresh.count == 1 and refresh.template_id == out[0].template_id
        assert lp.notable == {}
    else:
        assert lp.flush() == []
    # Known templates, and anything in the warm-up, are never novel.
    lp = LogPatterns("c1", "cart")
    early = [line(5 * i, f"disk quota exceeded on volume v{i}x", "error") for i in range(2)]
    assert lp.on_logs(early) == [] and lp.flush() == []


def test_a_known_template_surging_is_a_burst_over_its_baseline():
    lp = LogPatterns("c1", "cart")
    rng = random.Random(5)
    usual = [line(30 + 60 * m + rng.random(), f"slow GET /cart: took {rng.randint(2, 400)}ms")
             for m in range(120)]  # fmt: skip
    surge = [line(7200 + 2 * i, f"slow GET /cart: took {rng.randint(2, 400)}ms") for i in range(90)]
    assert lp.on_logs(usual) == []
    known = lp.template_of(surge[0].message)
    signals = lp.on_logs(surge) + lp.flush()
    assert signals and {(s.template_id, s.template) for s in signals} == {known}
    assert 0.5 < signals[0].baseline < 1.5  # lines per minute before the surge
    assert signals[0].count == math.ceil(5 + 3 * signals[0].baseline)
    assert sum(s.count for s in signals) == len(surge)


def test_a_burst_ends_and_a_new_one_signals_again():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0, novelty=False))
    rng = random.Random(1)
    first = [line(60 + i, fill(rng, ROOT_ERROR), "error") for i in range(10)]
    quiet = [line(600 + 60 * m, "healthcheck ok", "info") for m in range(5)]
    second = [line(1200 + i, fill(rng, ROOT_ERROR), "error") for i in range(10)]
    signals = lp.on_logs(first + quiet + second) + lp.flush()
    # Start, refresh when the minute closes; ended by the quiet minutes; a known template
    # (10 lines 19 minutes ago: baseline 0.47/min) then needs ceil(5 + 3 * 0.47) lines.
    assert [(s.count, s.first_ns // S, s.last_ns // S) for s in signals] == [
        (3, 60, 62),
        (7, 60, 69),
        (7, 1200, 1206),
        (3, 1200, 1209),
    ]
    assert signals[2].baseline == pytest.approx(0.47, abs=0.01)


def test_advance_sends_the_refresh_of_a_quiet_service():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0))
    rng = random.Random(2)
    assert len(lp.on_logs([line(i, fill(rng, ROOT_ERROR), "error") for i in range(8)])) == 1
    assert lp.advance(30 * S) == []  # still the same bucket
    [refresh] = lp.advance(61 * S)
    assert (refresh.count, refresh.last_ns) == (5, 7 * S)


def test_late_lines_count_in_the_current_bucket():
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0, novelty=False))
    rng = random.Random(3)
    events = [line(t, fill(rng, ROOT_ERROR), "error") for t in (120, 121, 30, 122, 10)]
    signals = lp.on_logs(events) + lp.flush()
    assert [s.count for s in signals] == [3, 2]
    assert all(s.first_ns <= s.last_ns for s in signals)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-5, 40),  # seconds since the previous line: mostly ordered
            st.sampled_from([ROOT_ERROR, _WARN[0], _WARN[1], _CALLER["latency"], _INFO[0]]),
            st.sampled_from(["info", "warn", "error", "fatal"]),
        ),
        max_size=300,
    )
)
def test_signals_never_cover_more_than_the_lines(rows):
    lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=120, bucket_s=30))
    rng, t, events = random.Random(0), 0, []
    for dt, template, level in rows:
        t += dt
        events.append(line(t, fill(rng, template), level))
    signals = lp.on_logs(events) + lp.flush()
    mined = sum(e.level != "info" for e in events)
    assert sum(s.count for s in signals) <= mined
    assert all(s.count >= 1 and s.first_ns <= s.last_ns for s in signals)
    assert all(s.level in ("warning", "error", "critical") for s in signals)


# --- determinism, pickling, bounds ----------------------------------------------------------


def mixed_run(seed):
    rng = random.Random(seed)
    burst = [line(1800 + 3 * i, fill(rng, _CALLER["latency"]), "error") for i in range(100)]
    return sorted(chatter(seed, 0, 60) + burst, key=lambda e: e.ts_ns)


def test_same_input_same_signals():
    events = mixed_run(11)
    a = LogPatterns("c1", "cart").on_logs(events)
    b = LogPatterns("c1", "cart").on_logs(events)
    assert a and a == b


@pytest.mark.parametrize("restore", [lambda lp: pickle.loads(pickle.dumps(lp)), copy.deepcopy])
@pytest.mark.parametrize("cut", [1, 500, 1100])
def test_pickled_mid_stream_the_miner_goes_on_the_same(cut, restore):
    events = mixed_run(12)
    whole = LogPatterns("c1", "cart")
    expected = whole.on_logs(events) + whole.flush()
    lp = LogPatterns("c1", "cart")
    got = lp.on_logs(events[:cut])
    lp = restore(lp)
    got += lp.on_logs(events[cut:]) + lp.flush()
    assert got == expected
    assert {t.template_id for t in lp.templates.values()} == {
        t.template_id for t in whole.templates.values()
    }


def test_template_ids_do_not_depend_on_the_process():
    code = (
        "from tests.test_log_patterns import mixed_run; from operators.log_patterns import "
        "LogPatterns; lp = LogPatterns('c1', 'cart'); lp.on_logs(mixed_run(13)); "
        "print(sorted(t.template_id for t in lp.templates.values()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lp = LogPatterns("c1", "cart")
    lp.on_logs(mixed_run(13))
    assert out.stdout.strip() == str(sorted(t.template_id for t in lp.templates.values()))


_WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789:/=-_.", min_size=1, max_size=8)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(_WORD, min_size=1, max_size=12), min_size=50, max_size=400))
def test_memory_stays_bounded_under_a_flood_of_distinct_messages(messages):
    limit = 12
    lp = LogPatterns("c1", "cart", LogPatternSettings(max_templates=limit, warmup_s=0))
    for i, words in enumerate(messages * 3):
        lp.on_logs([line(i, " ".join(words), "error")])
        assert len(lp.templates) <= limit and len(lp.notable) <= limit
    miner = lp.miner
    assert set(lp.templates) <= set(miner.templates) and len(miner.templates) <= limit
    # Every index holds the live templates only; the line cache has its own bound.
    assert sum(len(b) for b in miner.index.values()) == len(miner.templates)
    assert len(miner.cache) <= miner.max_cache and len(miner.dropped) == 0


def test_new_templates_never_evict_a_live_burst():
    lp = LogPatterns("c1", "cart", LogPatternSettings(max_templates=10, warmup_s=0))
    rng = random.Random(4)
    others = [f"queue q{i}x drained by worker w{i}y" for i in range(9)]
    events = [line(2 * i + k, m, "warn") for i, m in enumerate(others) for k in (0, 1)]
    events += [line(60 + i, fill(rng, ROOT_ERROR), "error") for i in range(3)]  # a burst starts
    # The others as often as the burst, and seen since: without the burst kept, the burst
    # would be the least recently seen of the rarest, and go when a new template comes.
    events += [line(63 + i, m, "warn") for i, m in enumerate(others)]
    events += [line(80, "a brand new kind of line", "warn")]
    events += [line(90 + i, fill(rng, ROOT_ERROR), "error") for i in range(4)]
    signals = lp.on_logs(events) + lp.flush()
    burst = [s for s in signals if s.template.startswith("unhandled exception")]
    assert len({s.template_id for s in burst}) == 1 and sum(s.count for s in burst) == 7
    assert burst[0].template_id in lp.notable and len(lp.templates) <= 10


def test_a_flood_does_not_grow_the_pickled_state():
    rng = random.Random(9)
    lp = LogPatterns("c1", "cart", LogPatternSettings(max_templates=100, warmup_s=0))

    def distinct(start, n):
        return [
            line(i, f"{rng.choice('abc')}q{i} zz{i}y k{rng.random()} {rng.choice('xyz')}")
            for i in range(start, start + n)
        ]

    lp.on_logs(distinct(0, 3000))
    size = len(pickle.dumps(lp))
    lp.on_logs(distinct(3000, 20000))
    assert len(lp.miner.templates) == 100
    assert len(pickle.dumps(lp)) < 1.5 * size


# --- members --------------------------------------------------------------------------------


def signal(count=10, level="error", baseline=0.0, first=0, last=5, ref="logs:1"):
    return LogSignal(
        cluster="c1",
        service="cart",
        template_id="abc",
        template="unhandled exception in <*>",
        level=level,
        first_ns=first * S,
        last_ns=last * S,
        count=count,
        baseline=baseline,
        example="unhandled exception in GET /cart",
        ref=ref,
    )


def test_apply_log_lifecycle():
    member, change = apply_log(None, signal(count=3, level="warning"))
    assert change is Change.NEW
    assert (member.kind, member.fingerprint, member.service) == ("log", "log:c1/cart:abc", "cart")
    assert member.labels == {
        "service": "cart",
        "cluster": "c1",
        "template": "unhandled exception in <*>",
    }
    assert (member.count, member.severity, member.title) == (
        3,
        "info",
        "unhandled exception in <*>",
    )
    assert (
        member.annotations["description"]
        == 'log "unhandled exception in <*>" 3x (baseline 0.0/min)'
    )
    score = member.score

    member, change = apply_log(member, signal(count=4, level="warning", first=60, last=90))
    assert change is Change.REPEAT
    assert (member.count, member.first_ns, member.last_ns) == (7, 0, 90 * S)
    assert member.score > score

    member, change = apply_log(member, signal(count=2, level="error", first=60, last=100))
    assert change is Change.STRONGER and member.severity == "warning"

    member.status, member.resolved_ns = "resolved", 200 * S  # as the grouper resolves it
    member, change = apply_log(member, signal(count=5, first=900, last=910, ref="logs:9"))
    assert change is Change.REFIRED
    assert (member.status, member.flaps, member.resolved_ns) == ("firing", 1, None)
    assert (member.count, member.refs[-1]) == (14, "logs:9")


def test_critical_lines_are_evidence_not_pages():
    member, _ = apply_log(None, signal(level="critical"))
    assert member.severity == "warning"


@pytest.mark.parametrize(
    ("count", "baseline", "score"),
    [(0, 0.0, 0.0), (10, 0.0, 0.5), (30, 0.0, 0.875), (60, 5.0, 0.5)],
)
def test_burst_score(count, baseline, score):
    assert burst_score(count, baseline) == pytest.approx(score)


def test_settings_are_checked():
    with pytest.raises(LogPatternError):
        LogPatternSettings(bucket_s=0)
    with pytest.raises(LogPatternError):
        LogPatternSettings(min_count=0)
