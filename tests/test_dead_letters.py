"""Dead letters never carry the personal data or secrets of the message they reject."""

import base64
import string

import orjson
import pytest
from alertflow.dataflows.sources import FileLine
from alertflow.operators.intake import Intake, dead_letter
from alertflow.operators.redaction import Redactor
from alertflow.schemas.config import ConfigError, RedactionConfig, load_config
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tests.flowkit import prom_line, read_jsonl

DEFAULT = Redactor(RedactionConfig())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"to bob.smith+x@mail.example.com!", b"to [REDACTED:email]!"),
        ("für jörg@exämple.de".encode(), "für [REDACTED:email]".encode()),
        # One address's domain runs into the next one's local part.
        (b"a@b.io/c@d.org", b"[REDACTED:email][REDACTED:email]"),
        (b"from 192.168.10.7:8080", b"from [REDACTED:ip]:8080"),
        (b"peer fe80::1ff:fe23:4567:890a up", b"peer [REDACTED:ip] up"),
        (b"peer 2001:db8:0:0:0:0:2:1 up", b"peer [REDACTED:ip] up"),
        (b"at 10:00:00 and 2026-11-25T10:00:00Z", b"at 10:00:00 and 2026-11-25T10:00:00Z"),
        (b"Authorization: Bearer abc.def-ghi_123", b"Authorization: [REDACTED:secret]"),
        (b"curl -H 'Bearer abcdefgh12345'", b"curl -H '[REDACTED:token]'"),
        (b"jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIx.sig_nature", b"jwt [REDACTED:token]"),
        (b"key AKIAIOSFODNN7EXAMPLE used", b"key [REDACTED:token] used"),
        (b"ghp_" + b"a" * 36, b"[REDACTED:token]"),
        (b"xoxb-1234567890-abcdef", b"[REDACTED:token]"),
        (
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nok",
            b"[REDACTED:token]\nok",
        ),
        (b"password=hunter2&page=2", b"password=[REDACTED:secret]&page=2"),
        (b'{"password": "correct horse battery"}', b'{"password": [REDACTED:secret]}'),
        (b"DB_PASSWORD: s3cr3t\n", b"DB_PASSWORD: [REDACTED:secret]\n"),
        (b"X-Api-Key: k-123", b"X-Api-Key: [REDACTED:secret]"),
        (b"aws_secret_access_key='abc'", b"aws_secret_access_key=[REDACTED:secret]"),
        (b"user_id=42 uid: 7", b"user_id=[REDACTED:user] uid: [REDACTED:user]"),
        (b'{"login":"bob"}', b'{"login":[REDACTED:user]}'),
        # Keys that merely contain a word stay: user_agent, author.
        (b"user_agent=curl author=me", b"user_agent=curl author=me"),
        # Non-ASCII bytes may belong to an internationalised address: they go with it.
        (b"\xff\xfebob@example.org\xff", b"[REDACTED:email]"),
        (b"\xff\xfe bob@example.org \xff", b"\xff\xfe [REDACTED:email] \xff"),
    ],
)
def test_rules(raw, expected):
    assert DEFAULT.redact(raw) == expected


def test_rules_can_be_turned_off_and_added():
    config = RedactionConfig(
        emails=False, ip_addresses=False, patterns={"ticket": r"TCK-\d+"}, user_keys=[]
    )
    redactor = Redactor(config)
    raw = b"bob@example.org 10.0.0.1 TCK-991 user=bob password=x"
    assert redactor.redact(raw) == (
        b"bob@example.org 10.0.0.1 [REDACTED:ticket] user=bob password=[REDACTED:secret]"
    )


def test_a_pattern_that_does_not_compile_is_a_config_error():
    with pytest.raises(ConfigError, match="redaction pattern 'bad'"):
        load_config(None, {"redaction.patterns": {"bad": "("}})


def test_a_dead_letter_keeps_at_most_the_cap():
    raw = ("é" * 5000 + " mail bob@example.org").encode()  # 2 bytes a character
    letter = dead_letter(
        "logs", "t", 0, 1, raw, "too big", Redactor(RedactionConfig(dlq_max_bytes=101))
    )
    kept = base64.b64decode(letter.record.raw_b64)
    assert kept == raw[:101]
    assert letter.record.raw_size == len(raw)
    # The cap cut the 51st character in two: the text drops its first byte, not everything.
    assert letter.record.raw_text == "é" * 50


def test_the_reason_is_redacted_too():
    letter = dead_letter("logs", "t", 0, 1, b"x", "field 'bob@example.org' must be a string")
    assert letter.record.reason == "field '[REDACTED:email]' must be a string"


def _dead_letter_fields(raw: bytes) -> list[bytes]:
    """Every field of the dead letter Intake makes of ``raw``, as bytes."""
    [dead] = Intake("metrics").decode_batch([[FileLine("in.jsonl", 1, raw)]])
    record = orjson.loads(dead[0].encode())
    return [
        base64.b64decode(record["raw_b64"]),
        (record["raw_text"] or "").encode(),
        record["reason"].encode(),
        dead[0].encode(),
    ]


junk = st.binary(max_size=200) | st.text(max_size=200).map(str.encode)


@given(prefix=junk, email=st.emails(), suffix=junk)
def test_no_email_in_bad_input_survives(prefix, email, suffix):
    raw = b"{" + prefix + email.encode() + suffix  # never a valid record
    for field in _dead_letter_fields(raw):
        assert email.encode() not in field


_SECRET = st.text(string.ascii_letters + string.digits, min_size=12, max_size=40)
_FORMS = st.sampled_from(
    [
        "password={}",
        'password: "{}"',
        '"api_key": "{}"',
        "Authorization: Bearer {}",
        "Bearer {}",
        "X-Auth-Token: {}",
        "ghp_{}{}",
        "sk-{}{}",
        "token={}",
        "user_id={}",
    ]
)


@given(prefix=junk, form=_FORMS, secret=_SECRET, suffix=junk)
def test_no_token_or_password_in_bad_input_survives(prefix, form, secret, suffix):
    encoded = secret.encode()
    assume(encoded not in prefix and encoded not in suffix)
    # A separator keeps the junk from running into the key ("...xpassword" is another key).
    raw = b"{" + prefix + b" " + form.format(secret, secret).encode() + b" " + suffix
    for field in _dead_letter_fields(raw):
        assert encoded not in field


@given(bad=st.lists(junk, min_size=1, max_size=5), email=st.emails())
@example(bad=[b"@0/"], email="0@A.MH")  # two addresses sharing "0"
def test_good_records_around_bad_ones_are_still_decoded(bad, email):
    good = [prom_line("cpu", {"host": f"h{i}"}, 1_795_600_800 + i, i) for i in range(len(bad) + 1)]
    lines = [good[0]]
    for i, b in enumerate(bad):
        lines += [b"{" + b + email.encode(), good[i + 1]]
    poll = [FileLine("in.jsonl", n + 1, raw) for n, raw in enumerate(lines)]
    records, dead = Intake("metrics").decode_batch([poll])
    assert [r.labels["host"] for r in records] == [f"h{i}" for i in range(len(good))]
    assert [d.record.offset for d in dead] == list(range(2, len(lines) + 1, 2))
    assert all(email.encode() not in d.encode() for d in dead)


def test_a_message_over_the_size_limit_is_rejected_undecoded():
    good = prom_line("cpu", {"host": "h0"}, 1_795_600_800, 1)
    huge = prom_line("cpu", {"host": "h1", "blob": "x" * 2000}, 1_795_600_800, 1)
    poll = [FileLine("in.jsonl", 1, good), FileLine("in.jsonl", 2, huge)]
    records, dead = Intake("metrics", max_message_bytes=1000).decode_batch([poll])
    assert [r.labels["host"] for r in records] == ["h0"]
    [letter] = dead
    assert letter.record.reason == (
        f"message of {len(huge)} bytes is larger than intake.max_message_bytes (1000)"
    )
    assert letter.record.raw_size == len(huge)


@pytest.mark.parametrize("emails", [True, False])
def test_the_flow_redacts_its_dead_letters_as_configured(tmp_path, emails):
    from alertflow.dataflows.flow import build_flow
    from alertflow.schemas.config import AlertflowConfig
    from bytewax.testing import run_main

    from tests.flowkit import write_lines

    good = prom_line("cpu", {"host": "h0"}, 1_795_600_800, 1)
    bad = b'{"value": "ops@example.org said: password=hunter2"'
    metrics = write_lines(tmp_path / "metrics.jsonl", [good, bad, good])
    config = AlertflowConfig.model_validate(
        {
            "inputs": {"metrics": [str(metrics)]},
            "output": str(tmp_path / "out"),
            # Room for the password's value, were it not redacted.
            "redaction": {"emails": emails, "dlq_max_bytes": 60},
        }
    )
    run_main(build_flow(config))
    [letter] = read_jsonl(tmp_path / "out" / "dlq.jsonl")
    assert "hunter2" not in letter["raw_text"]
    assert "password=[REDACTED:secret]" in letter["raw_text"]
    assert ("ops@example.org" in letter["raw_text"]) is not emails
    assert len(base64.b64decode(letter["raw_b64"])) <= 60
    assert letter["raw_size"] == len(bad)
