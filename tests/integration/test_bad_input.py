"""Bad input at volume through a real broker: every bad record to dlq with its reason, every good one scored.

One partition, so a message's offset is its index in the list produced. Outcomes follow
the documented semantics: NaN and ±Inf strings are Prometheus staleness markers (valid,
skipped by the scorer, never dead letters); an exact repeat of a series' newest
timestamp is a duplicate (skipped); a sample within ``scoring.lateness_s`` of its
series' newest is scored even out of order; one older than that is a late dead letter.
"""

import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from tests.flowkit import T0, prom_line, read_jsonl

pytestmark = pytest.mark.integration

SERIES = 40
POINTS = 250
STEP_S = 30
MAX_BYTES = 256 * 1024


def _stamp(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _line(host: int, ts_s: float, value) -> bytes:
    return prom_line("cpu_util", {"host": f"h{host}", "cluster": "c1"}, ts_s, value)


def _doc(host: int, **fields) -> bytes:
    doc = {"timestamp": T0, "value": "1", "name": "cpu_util", "labels": {"host": f"h{host}"}}
    doc.update(fields)
    return orjson.dumps(doc)


# Each kind of bad record, and a fragment its dead letter's reason must hold.
BAD_KINDS = {
    "truncated": "not valid JSON",
    "boolean value": "expected a number, got a boolean",
    "object value": "expected a number",
    "labels not an object": "expected an object",
    "name not a string": "'name'",
    "NaN literal": "not valid JSON",
    "invalid utf-8": "not valid JSON",
    "before 1970": "outside 1970-01-01..2262-04-11",
    "after 2262": "outside 1970-01-01..2262-04-11",
    "huge garbage": "larger than intake.max_message_bytes",
    "huge record": "larger than intake.max_message_bytes",
    "late": "late sample",
}


def _bad(kind: str, rng: random.Random, newest: dict[int, int]) -> bytes:
    host = rng.randrange(SERIES)
    if kind == "truncated":
        whole = _line(host, T0, 1.0)
        return whole[: rng.randrange(1, len(whole) - 1)]
    if kind == "boolean value":
        return _doc(host, value=True)
    if kind == "object value":
        return _doc(host, value={"v": 1})
    if kind == "labels not an object":
        return _doc(host, labels="host=h1")
    if kind == "name not a string":
        return _doc(host, name=7)
    if kind == "NaN literal":
        return _doc(host, value="@@").replace(b'"@@"', b"NaN")
    if kind == "invalid utf-8":
        return _doc(host, labels={"host": "@@"}).replace(b"@@", b"\xff\xfe\xc3")
    if kind == "before 1970":
        return _doc(host, timestamp="1901-01-01T00:00:00Z")
    if kind == "after 2262":
        return _doc(host, timestamp="3000-01-01T00:00:00Z")
    if kind == "huge garbage":
        return bytes(rng.randrange(256) for _ in range(64)) * (MAX_BYTES // 64 + 1)
    if kind == "huge record":
        return _doc(host, labels={"host": f"h{host}", "blob": "x" * MAX_BYTES})
    assert kind == "late"
    # Off the sampling grid, so never mistaken for a repeat of a seen timestamp.
    return _line(host, newest[host] - 1000 + 7, 1.0)


def _stream(seed: int = 11):
    """The messages, the bad kind at each bad offset, and the (host, ts) of every good sample."""
    rng = random.Random(seed)
    messages: list[bytes] = []
    bad: dict[int, str] = {}
    scored: set[tuple[str, str]] = set()
    newest: dict[int, int] = {}
    for i in range(POINTS):
        hosts = list(range(SERIES))
        if rng.random() < 0.3:  # two series out of order: both within the lateness bound
            a, b = rng.sample(hosts, 2)
            hosts[a], hosts[b] = hosts[b], hosts[a]
        for host in hosts:
            ts = T0 + STEP_S * i
            messages.append(_line(host, ts, 50 + rng.gauss(0, 1)))
            scored.add((f"h{host}", _stamp(ts)))
            newest[host] = ts
            roll = rng.random()
            if i > 1 and roll < 0.02:
                # Out of order within the series: older than its newest, within the bound.
                behind = ts - STEP_S // 2  # off the grid: a sample of its own
                messages.append(_line(host, behind, 50 + rng.gauss(0, 1)))
                scored.add((f"h{host}", _stamp(behind)))
            elif roll < 0.03:
                # A staleness marker, newer than the series' newest: skipped, not scored.
                messages.append(_line(host, ts + 1, rng.choice(["NaN", "+Inf", "-Inf"])))
            elif roll < 0.04:
                messages.append(messages[-1])  # a duplicate of the newest
            elif i >= 40 and roll < 0.10:  # late needs 1000 s of history
                kind = rng.choice(sorted(BAD_KINDS))
                bad[len(messages)] = kind
                messages.append(_bad(kind, rng, newest))
    return messages, bad, scored


def test_every_bad_record_is_a_dead_letter_and_every_good_one_is_scored(broker, tmp_path):
    messages, bad, scored = _stream()
    assert set(bad.values()) == set(BAD_KINDS), "every kind appears"
    topic = f"mixed-{uuid.uuid4().hex[:8]}"
    broker.create_topics(topic)
    broker.produce(topic, messages)
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "alertflow.dataflows.cli", "run",
        "--input", f"metrics=kafka://{broker.bootstrap}/{topic}",
        "--output", str(out),
        "--set", "kafka.stop_at_end=true",
        "--set", "scoring.emit_scores=true",
        "--set", f"intake.max_message_bytes={MAX_BYTES}",
    ]  # fmt: skip
    assert subprocess.run(cmd, timeout=600).returncode == 0
    dead = {d["offset"]: d for d in read_jsonl(out / "dlq.jsonl")}
    assert set(dead) == set(bad)
    for offset, kind in bad.items():
        letter = dead[offset]
        assert BAD_KINDS[kind] in letter["reason"], (kind, letter["reason"])
        assert letter["source"] == topic
        if kind != "late":  # a late sample's letter holds the decoded sample, not the message
            assert letter["raw_size"] == len(messages[offset])
        assert len(letter["raw_b64"]) <= 4 * (4096 + 2) // 3
    got = {
        (r["labels"]["host"], r["ts"])
        for stream in ("scores", "anomalies")
        for r in read_jsonl(out / f"{stream}.jsonl")
    }
    assert got == scored
