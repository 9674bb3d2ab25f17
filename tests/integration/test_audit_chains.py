"""Audit chains with ``kafka.series_partitioned`` on 2 processes, killed and resumed.

A chain must be fed by one upstream key whose output order is fixed, or its order
(and so every hash after the first difference) depends on which worker was faster: a
replay after a crash then writes records under the same ``seq`` with other contents.
Keyed by partition, one series shard is scored under one state key per input
partition, possibly in two processes; the anomalies' chains follow those keys.
"""

import random
import signal
import subprocess
import time

import orjson
import pytest

from bench.broker import free_port
from tests.flowkit import prom_line
from tests.integration.crashkit import by_id
from tests.integration.test_kafka_flow import _cmd, _topics

pytestmark = pytest.mark.integration

T0 = 1_764_000_000  # 2025-11-24T16:00:00Z
SERIES = 8
POINTS = 200
# Two shards: each partition scores all its series under one key (64 // 2 partitions would
# leave most shards of a partition empty), so every shard number has series of both
# partitions and main's ``scoring/s<n>`` chains would mix them.
SETTINGS = ("--set", "scoring.shards=2", "--set", "correlation.lateness_s=86400",
            "--set", "runtime.snapshot_interval_s=0.5")
PARTITIONED = ("--set", "kafka.series_partitioned=true")


def _lines(bad_every: int = 0) -> tuple[list[bytes], list[bytes]]:
    """Samples of ``SERIES`` hosts, each spiking once in each half; and their keys (host).

    With ``bad_every``, every so many points each host also sends a line that is not JSON.
    """
    rng = random.Random(7)
    lines, keys = [], []
    for i in range(POINTS):
        for s in range(SERIES):
            spike = i in (60 + 4 * s, 150 + 4 * s)
            value = 50 + rng.gauss(0, 1) + (40 if spike else 0)
            lines.append(prom_line("cpu_util", {"host": f"h{s}", "cluster": "c1"}, T0 + 30 * i,
                                   value))  # fmt: skip
            keys.append(f"h{s}".encode())
            if bad_every and i % bad_every == 0:
                lines.append(b"{not json " + str(i).encode())
                keys.append(f"h{s}".encode())
    return lines, keys


def _two_processes(broker, names, *extra) -> list[subprocess.Popen]:
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    return [
        subprocess.Popen(_cmd(broker, names, *SETTINGS, *extra, "-a", addresses, "-i", str(i)),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]  # fmt: skip


def _wait(procs: list[subprocess.Popen]) -> None:
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err[-2000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def _read(broker, names, stream, expect=0) -> list[dict]:
    return [orjson.loads(v) for v in broker.consume_all(names["prefix"] + stream, expect)]


def _outputs(broker, names) -> dict[str, list[dict]]:
    return {s: _read(broker, names, s) for s in ("anomalies", "audit")}


def _partitions_of(record: dict) -> set[str]:
    """The input partitions (``topic/p``) of an audit record's inputs."""
    return {ref.rpartition("@")[0] for ref in record["inputs"]}


def _crashed_and_whole(broker, tmp_path, lines, keys, *extra) -> tuple[dict, dict, list]:
    """The outputs of a job killed and resumed, and of one uninterrupted, on the same input."""
    half = len(lines) // 2
    crashed = _topics(broker, partitions=2)
    broker.create_topics(crashed["prefix"] + "audit")
    whole = dict(crashed, prefix=crashed["prefix"] + "whole.")
    broker.create_topics(*(whole["prefix"] + s for s in ("anomalies", "incidents",
                                                         "notifications", "dlq", "audit")))
    broker.produce(crashed["metrics"], lines[:half], keys=keys[:half])

    # The first half, read live by 2 processes, killed with SIGKILL once they have written
    # anomalies; the second half arrives, and the job resumes from its recovery store.
    state = ("--recovery-dir", str(tmp_path / "state"))
    procs = _two_processes(broker, crashed, *extra, *state)
    try:
        deadline = time.monotonic() + 180
        while not broker.consume_all(crashed["prefix"] + "anomalies", settle_s=0.3):
            assert all(p.poll() is None for p in procs), [p.stderr.read()[-2000:] for p in procs]
            assert time.monotonic() < deadline, "no anomalies from the first half"
        time.sleep(random.Random(3).uniform(0.2, 1.0))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait(timeout=30)
    broker.produce(crashed["metrics"], lines[half:], keys=keys[half:])
    _wait(_two_processes(broker, crashed, *extra, *state, "--set", "kafka.stop_at_end=true"))

    # The same input, read once by 2 processes without a kill.
    _wait(_two_processes(broker, whole, *extra, "--set", "kafka.stop_at_end=true"))
    for names in (crashed, whole):
        topic = f"kafka://{broker.bootstrap}/{names['prefix']}audit"
        verified = subprocess.run([*_cmd(broker, names)[:3], "audit", "verify", topic],
                                  capture_output=True, text=True, timeout=120)  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr
    return _outputs(broker, whole), _outputs(broker, crashed), _read(broker, whole, "dlq")


def test_chains_follow_the_scoring_keys_and_a_resumed_job_rewrites_them_alike(broker, tmp_path):
    want, got, _ = _crashed_and_whole(broker, tmp_path, *_lines(), *PARTITIONED)
    anomalies, _ = by_id(want["anomalies"])
    chains = {}
    for record in want["audit"]:
        if record["stream"] == "anomalies":
            chains.setdefault(record["partition"], set()).update(_partitions_of(record))
    # Both partitions' series were anomalous (else the test shows nothing) ...
    assert len(set().union(*chains.values())) == 2, chains
    # ... and each chain holds one partition's anomalies: one scoring key's, in its order.
    mixed = {chain: parts for chain, parts in chains.items() if len(parts) > 1}
    assert not mixed, f"chains fed by two partitions' scoring keys: {mixed}"

    # The killed and resumed job wrote the same anomalies and, for them, the same audit
    # records: same (chain, seq), same hash; replayed copies are identical.
    assert by_id(got["anomalies"])[0].keys() == anomalies.keys()
    audit, conflicts = by_id(got["audit"])
    assert not conflicts, f"audit ids written with two contents (forked chains): {conflicts[:3]}"
    wanted = {i: r for i, r in by_id(want["audit"])[0].items() if r["stream"] == "anomalies"}
    found = {i: r for i, r in audit.items() if r["stream"] == "anomalies"}
    assert found == wanted


def test_dead_letters_chain_by_partition_and_a_resumed_job_rewrites_them_alike(broker, tmp_path):
    # Not series_partitioned: each partition is decoded by its reader, in either process.
    want, got, dead = _crashed_and_whole(broker, tmp_path, *_lines(bad_every=10))
    assert len(dead) == SERIES * POINTS // 10
    chains = {}
    for record in want["audit"]:
        if record["stream"] == "dlq":
            chains.setdefault(record["partition"], set()).update(_partitions_of(record))
    assert len(chains) == 2 and all(len(parts) == 1 for parts in chains.values()), chains
    audit, conflicts = by_id(got["audit"])
    assert not conflicts, f"audit ids written with two contents (forked chains): {conflicts[:3]}"
    wanted = {i: r for i, r in by_id(want["audit"])[0].items() if r["stream"] == "dlq"}
    assert {i: r for i, r in audit.items() if r["stream"] == "dlq"} == wanted
