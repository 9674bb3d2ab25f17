"""RFC 3339 stamps: the fast path for the usual spelling reads what the general parser reads."""

import string

import pytest
from alertflow.schemas import timefmt
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.timefmt import _parse_rfc3339_ns, coerce_epoch_ns, parse_rfc3339_ns
from hypothesis import given
from hypothesis import strategies as st

_heads = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format,
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
    st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
)
_digits = st.text(alphabet=string.digits + "²٣ ", max_size=12)
_stamps = st.one_of(
    st.builds(lambda h, d: f"{h}.{d}Z", _heads, _digits),  # the fast path's shape, valid or not
    st.builds(lambda p, h, d, z: f"{p}{h}.{d}{z}", st.sampled_from(["", " ", "."]), _heads,
              _digits, st.sampled_from(["Z", "z", "+00:00", "+01:30", ""])),
    st.text(max_size=30),
)


def _outcome(parse, text):
    try:
        return parse(text)
    except DecodeError as exc:
        return ("error", exc.reason)


@given(_stamps, _heads)
def test_fast_path_reads_what_the_general_parser_reads(text, head):
    _outcome(parse_rfc3339_ns, f"{text[:19]}.5Z")  # its second learned, where it is one
    _outcome(parse_rfc3339_ns, f"{head}.5Z")
    expected = _outcome(_parse_rfc3339_ns, text)
    assert _outcome(parse_rfc3339_ns, text) == expected
    assert _outcome(parse_rfc3339_ns, f"{head}{text[19:]}") == _outcome(
        _parse_rfc3339_ns, f"{head}{text[19:]}"
    )


def _coerce_before(value):
    """coerce_epoch_ns for strings as it was: int() first, RFC 3339 when that fails."""
    stripped = value.strip()
    try:
        return coerce_epoch_ns(int(stripped))
    except ValueError:
        return _parse_rfc3339_ns(stripped)


@given(st.one_of(_stamps, st.integers(1, 10**19).map(str), st.text(alphabet="0123456789:_ -")))
def test_strings_with_a_colon_skip_int_and_read_the_same(text):
    assert _outcome(coerce_epoch_ns, text) == _outcome(_coerce_before, text)


@pytest.mark.parametrize("text", [
    "2026-11-25T10:00:00.\u0663Z",  # a non-ASCII digit: int() reads it, RFC 3339 does not
    "2026-11-25T10:00:00.\u00b2Z",  # isdigit() but not a decimal
    "2262-04-11T23:47:16.999999999Z",  # past 2**63 - 1 ns by its fraction only
])
def test_shapes_near_the_fast_path_read_as_the_general_parser_reads(text):
    parse_rfc3339_ns(f"{text[:19]}.0Z")  # its second learned
    assert text[:19] in timefmt._SECONDS
    assert _outcome(parse_rfc3339_ns, text) == _outcome(_parse_rfc3339_ns, text)


def test_a_head_with_a_fraction_of_its_own_is_not_a_second():
    timefmt._remember_second("2026-11-25T10:00.00")  # a time, but not one of whole seconds
    assert "2026-11-25T10:00.00" not in timefmt._SECONDS
    text = "2026-11-25T10:00.00.5Z"
    assert _outcome(parse_rfc3339_ns, text) == _outcome(_parse_rfc3339_ns, text)


def test_the_usual_spelling_is_read_from_its_second():
    parse_rfc3339_ns("2026-11-25T10:00:00.077Z")
    assert timefmt._SECONDS["2026-11-25T10:00:00"] == 1795600800 * 10**9
    assert parse_rfc3339_ns("2026-11-25T10:00:00.123456789123Z") == 1795600800123456789
    with pytest.raises(DecodeError):
        parse_rfc3339_ns("2026-11-25T10:00:00.Z")


def test_the_remembered_seconds_stay_bounded(monkeypatch):
    monkeypatch.setattr(timefmt, "_MAX_SECONDS", 3)
    monkeypatch.setattr(timefmt, "_SECONDS", {})
    for second in range(10):
        parse_rfc3339_ns(f"2026-11-25T10:00:{second:02d}.5Z")
        assert len(timefmt._SECONDS) <= 3
    assert parse_rfc3339_ns("2026-11-25T10:00:09.5Z") == 1795600809500000000
