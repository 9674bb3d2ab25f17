"""The audit chain: every decision chained, copies accepted, any tampering named."""

import subprocess
import sys

import orjson
from alertflow.operators.decisions import Decision
from alertflow.operators.delivery.audit import AuditChain, partition_of, record_hash, verify
from alertflow.operators.intake import dead_letter
from hypothesis import given
from hypothesis import strategies as st

from tests.flowkit import alert_lines, metric_lines, write_lines


def _chain(n: int = 6) -> list[dict]:
    chains: dict[str, AuditChain] = {}
    out = []
    for i in range(n):
        key = f"incident-{i % 2}"
        decision = Decision("incidents", key, {"id": f"v{i}", "summary": f"s{i}"}, (f"a:{i}",))
        chain = chains.setdefault(partition_of(decision, 64), AuditChain(f"incident/{key}"))
        out.append(orjson.loads(chain.append(decision).encode()))
    return out


def test_an_intact_chain_verifies_and_replayed_copies_are_accepted():
    records = _chain()
    assert verify(records) == (6, None)
    # At-least-once: after a crash the tail is written again, byte for byte.
    assert verify([*records, *records[3:], *records[4:]]) == (11, None)


def test_each_kind_of_tampering_is_named_at_its_record():
    records = _chain()
    edited = [*records[:2], {**records[2], "record_id": "other"}, *records[3:]]
    assert "edited" in verify(edited)[1].reason
    assert verify(edited)[1].position == 3
    removed = records[:2] + records[4:]  # seq 2 of one chain and of the other
    assert "missing" in verify(removed)[1].reason
    assert verify([records[0], records[2]])[1] is None  # one chain, seq 1 then 2
    resealed = dict(records[2], prev="f" * 64)
    resealed["hash"] = record_hash(resealed)  # re-hashed: only the link gives it away
    assert "prev" in verify([records[0], resealed])[1].reason
    replaced = dict(records[0], record_sha256="0" * 64)
    replaced["hash"] = record_hash(replaced)
    assert "replaced" in verify([*records, replaced])[1].reason


@given(st.lists(st.dictionaries(st.text(max_size=8), st.integers() | st.text()), max_size=5))
def test_arbitrary_records_never_crash_the_verifier(records):
    count, broken = verify(records)
    assert count == len(records) if broken is None else broken.position <= len(records)


@given(st.integers(0, 5), st.sampled_from(["seq", "prev", "stream", "record_id", "inputs"]))
def test_changing_any_field_of_any_record_breaks_the_chain(index, field):
    records = _chain()
    value = records[index][field]
    records[index] = {**records[index], field: value + 1 if isinstance(value, int) else "x"}
    assert verify(records)[1] is not None


def test_a_run_writes_a_chain_the_cli_verifies_and_a_cut_one_fails(tmp_path):
    metrics = write_lines(tmp_path / "m.jsonl", metric_lines())
    alerts = write_lines(tmp_path / "a.jsonl", alert_lines())
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "alertflow.dataflows.cli"]
    run = [*cli, "run", "--input", f"metrics={metrics}", "--input", f"alerts={alerts}",
           "--output", str(out)]  # fmt: skip
    subprocess.run(run, check=True, capture_output=True, timeout=120)
    audit = out / "audit.jsonl"
    lines = audit.read_bytes().splitlines()
    decisions = sum(
        len((out / f"{s}.jsonl").read_bytes().splitlines())
        for s in ("anomalies", "incidents", "notifications", "dlq")
        if (out / f"{s}.jsonl").exists()
    )
    assert len(lines) == decisions > 1
    ok = subprocess.run([*cli, "audit", "verify", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout
    write_lines(audit, [lines[0], *lines[2:]])
    cut = subprocess.run([*cli, "audit", "verify", str(audit)], capture_output=True, text=True)
    assert cut.returncode == 1
    assert "chain broken at record" in cut.stdout


def test_scored_and_forecast_decisions_chain_by_the_state_key_that_emitted_them():
    from alertflow.dataflows.flow import _chained_predictions, _joined

    key = "metrics/1.s0~0032"  # a series_partitioned key: shard 0 of partition 1
    anomaly = Decision("anomalies", 'up{job="api"}', {"id": "a"})
    late = dead_letter("metrics", "metrics", 1, 7, b"{}", "late")
    assert partition_of(late, 64) == "dlq/metrics/1"  # a partition's reader made it ...
    _joined([(key, [anomaly, late])])
    assert partition_of(anomaly, 64) == f"scoring/{key}"
    assert partition_of(late, 64) == f"scoring/{key}"  # ... no: a scoring key did
    # A file has one reader: its dead letters chain by file, as they always did.
    assert partition_of(dead_letter("metrics", "m.jsonl", None, 3, b"", "bad"), 64) == "dlq/m.jsonl"
    prediction = Decision("predictions", 'up{job="api"}', {"id": "p"})
    _chained_predictions((key, [prediction]))
    assert partition_of(prediction, 64) == f"prediction/{key}"
    # Unnamed, a decision chains by its series' shard (what a key is by default).
    assert partition_of(Decision("anomalies", 'up{job="api"}', {}), 64) == "scoring/s28"
