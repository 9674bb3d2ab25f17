"""Personal data and secrets are scrubbed from every output, not only from dead letters."""

import subprocess
import sys

import orjson
import pytest
from alertflow.operators.decisions import Decision, Record
from alertflow.operators.delivery.output_redaction import OutputRedactor
from alertflow.operators.redaction import Redactor
from alertflow.schemas.config import RedactionConfig
from alertflow.schemas.outputs import Notification
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.flowkit import T0, metric_lines, prom_line, write_lines
from tests.redaction_corpus import CASES


@pytest.mark.parametrize(("text", "secrets", "keep"), CASES, ids=[c[0][:30] for c in CASES])
def test_the_corpus_loses_its_secrets_and_keeps_the_rest(text, secrets, keep):
    out = Redactor(RedactionConfig()).redact_text(text)
    assert not [s for s in secrets if s in out], out
    assert all(k in out for k in keep), out


def _record() -> Record:
    return Record(
        id="3f" * 16,
        series='cpu{instance="10.0.0.7:9100"}',
        labels={"instance": "10.0.0.7:9100", "owner": "ops", "user": "bob@example.org"},
        members=[
            {
                "kind": "alert",
                "id": "aaaa000000000001",
                "summary": "mail a@b.example from 192.0.2.44 failed",
            }
        ],
    )


def test_labels_members_and_text_of_a_record_are_scrubbed_and_ids_kept():
    decision = Decision("anomalies", "k", _record())
    OutputRedactor(RedactionConfig()).redact_all([decision])
    text = decision.encode().decode()
    assert "a@b.example" not in text and "bob@example.org" not in text
    assert "192.0.2.44" not in text  # an address in prose is personal data
    assert decision.record["id"] == "3f" * 16
    assert decision.record["members"][0]["id"] == "aaaa000000000001"


def test_an_address_that_names_a_machine_is_kept_unless_configured_otherwise():
    kept = Decision("anomalies", "k", _record())
    OutputRedactor(RedactionConfig()).redact_all([kept])
    assert kept.record["labels"]["instance"] == "10.0.0.7:9100"
    assert kept.record["series"] == 'cpu{instance="10.0.0.7:9100"}'
    scrubbed = Decision("anomalies", "k", _record())
    OutputRedactor(RedactionConfig(ips_in_identifiers=False)).redact_all([scrubbed])
    assert "10.0.0.7" not in scrubbed.encode().decode()
    # Dead letters never keep one: the option is about output records only.
    assert b"10.0.0.7" not in Redactor(RedactionConfig()).redact(b'cpu{instance="10.0.0.7"}')


def test_a_clean_model_record_keeps_its_object():
    note = Notification(
        id="n1", kind="incident_opened", incident_id="i1", incident_version=1,
        ts="2026-11-25T10:00:00Z", severity="warning", title="db slow", text="p99 1.2s",
    )  # fmt: skip
    decision = Decision("notifications", "i1", note)
    OutputRedactor(RedactionConfig()).redact_all([decision])
    assert decision.record is note


@given(st.recursive(st.text() | st.integers() | st.none(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))  # fmt: skip
def test_any_json_is_scrubbed_without_error_and_twice_is_once(value):
    redactor = OutputRedactor(RedactionConfig())
    once = Decision("anomalies", "k", {"value": value})
    redactor.redact_all([once])
    twice = Decision("anomalies", "k", dict(once.record))
    redactor.redact_all([twice])
    assert twice.record == once.record


def _walk(text, value):
    """The plain recursive walk the cached one replaced: the reference for equivalence."""
    if isinstance(value, str):
        scrubbed = text(value)
        return value if scrubbed == value else scrubbed
    if isinstance(value, dict):
        keep = {"id", "incident_id", "record_id", "hash", "prev", "fingerprint"}
        out = {k: v if k in keep else _walk(text, v) for k, v in value.items()}
        return out if any(out[k] is not v for k, v in value.items()) else value
    if isinstance(value, list):
        items = [_walk(text, v) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


_PII = st.sampled_from(["ops", "10.0.0.7:9100", "bob@example.org", "id", "", "ts"])
_LEAF = _PII | st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.booleans() | st.none()
_LABELS = st.dictionaries(_PII | st.text(max_size=4), _PII | st.integers(0, 9), max_size=4)


@given(st.lists(st.dictionaries(
    _PII, st.recursive(_LEAF | _LABELS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_PII, inner, max_size=3)), max_size=6), max_size=6))
def test_the_cached_walk_gives_what_the_plain_walk_gives(records):
    # One redactor for every record, so later records hit what earlier ones cached.
    redactor = OutputRedactor(RedactionConfig())
    for record in records + records:  # each twice: the second meets the caches
        expected = _walk(redactor.text, record)
        decision = Decision("scores", "k", record)
        redactor.redact(decision)
        assert orjson.dumps(decision.record) == orjson.dumps(expected)
        assert (decision.record is record) == (expected is record)


# Mostly the real shape (numbers, flat labels); now and then a text where a number belongs.
_NUMBER = st.one_of(st.floats(), st.floats(), st.floats(), st.integers(-5, 5), _PII)
_SCORES = st.fixed_dictionaries({
    "id": _PII, "series": _PII, "name": _PII | _PII | st.booleans(),
    "labels": _LABELS | _LABELS | st.none(),
    "ts": _PII, "value": _NUMBER, "score": _NUMBER, "expected": _NUMBER, "lower": _NUMBER,
    "upper": _NUMBER, "detectors": st.lists(_PII, max_size=2) | _PII, "severity": _PII,
}, optional={"interval_s": _NUMBER})


@settings(max_examples=300)
@given(st.lists(_SCORES, max_size=8))
def test_scores_records_outside_a_block_give_what_the_plain_walk_gives(records):
    # A scores record outside a block (the flow sends blocks) takes the general walk.
    redactor = OutputRedactor(RedactionConfig())
    for record in records + records:  # each twice: the second meets the caches
        expected = _walk(redactor.text, record)
        decision = Decision("scores", "k", record)
        redactor.redact_all([decision])
        assert orjson.dumps(decision.record) == orjson.dumps(expected)
        assert (decision.record is record) == (expected is record)


def test_a_series_whose_labels_change_is_judged_again():
    redactor = OutputRedactor(RedactionConfig())

    def scores(labels):
        return {"id": "0" * 32, "series": "up", "name": "up", "labels": labels,
                "ts": "2026-11-25T10:00:00.000Z", "value": 1.0, "score": 0.0, "expected": 1.0,
                "lower": 1.0, "upper": 1.0, "detectors": [], "severity": "warning"}

    for labels in ({"job": "a"}, {"job": "a"}, {"job": "bob@example.org"}):
        decision = Decision("scores", "up", scores(labels))
        redactor.redact_all([decision])
    assert decision.record["labels"] == {"job": "[REDACTED:email]"}


def test_no_output_of_a_run_carries_the_inputs_personal_data_but_machines_keep_names(tmp_path):
    lines = metric_lines(n_series=2, n_points=200, spike_at=150)
    # A series whose labels hold an address and a user's e-mail, with a spike.
    for i in range(200):
        labels = {"instance": "10.9.8.7:9100", "user": "carol@example.net", "cluster": "c1"}
        lines.append(prom_line("cpu_util", labels, T0 + 30 * i, 50 + (60 if i == 150 else 0)))
    metrics = write_lines(tmp_path / "m.jsonl", lines)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "alertflow.dataflows.cli", "run", "--input",
           f"metrics={metrics}", "--output", str(out), "--set",
           "correlation.anomaly_incidents=true"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    written = b"".join(p.read_bytes() for p in out.glob("*.jsonl"))
    anomalies = [orjson.loads(x) for x in (out / "anomalies.jsonl").read_bytes().splitlines()]
    # The series was scored, named by its machine's address (an identifier, kept) ...
    assert any('instance="10.9.8.7:9100"' in a["series"] for a in anomalies)
    # ... and the user's e-mail is nowhere, neither in identifiers nor in text.
    assert b"carol@example.net" not in written
