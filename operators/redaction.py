"""Scrubbing personal data and secrets from bytes that leave the flow (today: dead letters).

Rules are regular expressions over bytes, so a message that is not valid UTF-8 is
scrubbed as well as one that is. Regexes rather than Presidio or scrubadub: what
reaches the dead-letter output is machine-made (JSON, key=value, log lines), where
the shape of an address, a token or a ``password=`` pair is the whole signal;
Presidio's recognisers for these are regexes too and its NER needs a spaCy model
(hundreds of MB, fetched from a hub), and scrubadub's email/credential detectors are
regexes over ``str`` only. Neither beats a byte-level regex here, and both cost ms
per record where these cost µs.
"""

import ipaddress
import re
from collections.abc import Callable

from alertflow.schemas.config import RedactionConfig

# RFC 5322 atext plus dots, and any non-ASCII byte (internationalised addresses).
_ATEXT = rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\x80-\xff-]"
_DOMAIN = rb"[A-Za-z0-9\x80-\xff][A-Za-z0-9\x80-\xff-]*+(?:\.[A-Za-z0-9\x80-\xff-]++)*+"
# Tried only where a run of atext starts, and never backtracked into: linear in the input
# (scanning from every position of a long run for an "@" was quadratic).
_EMAIL = re.compile(rb"(?<!" + _ATEXT + rb")" + _ATEXT + rb"++@" + _DOMAIN)
# The look-behind follows the first digit so the engine can skip to digits.
_IPV4 = re.compile(rb"[0-9](?<![0-9.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?![0-9])")
# Candidates only: ``ipaddress`` decides, so times such as 10:00:00 stay.
_IPV6 = re.compile(rb"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])")
_TOKENS = re.compile(
    rb"(?i:\b(?:bearer|basic|token|apikey)[ \t]+)[A-Za-z0-9._~+/=-]{8,}"
    rb"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWT
    rb"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    rb"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    rb"|\bglpat-[A-Za-z0-9_-]{20,}"  # GitLab
    rb"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    rb"|\bAIza[0-9A-Za-z_-]{35}"  # Google API key
    rb"|\bsk-[A-Za-z0-9_-]{20,}"  # sk-... secret keys
    rb"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
# A key=value, key: value or "key": "value" pair; group 1 is the key and separator.
_VALUE = (
    rb"(?:(?i:bearer|basic|digest|token|negotiate)[ \t]+)?"  # Authorization: <scheme> <value>
    rb"""("(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^\s"'&,;}\])]+)"""
)
# A span that crosses the size cap is scanned whole if it is shorter than this.
_MARGIN = 1024

# A rule: a pattern, what replaces a match, and a cheap test (of the bytes and their
# lowercase) that must pass for the pattern to be worth running. Python's regex engine
# tries a pattern at every position, ~50 ns each; the tests are C-speed substring searches.
Trigger = Callable[[bytes, bytes], bool]
Replace = Callable[[re.Match[bytes]], bytes]
Rule = tuple[Callable[[bytes], bytes], Trigger]
_TOKEN_WORDS = (b"bearer", b"basic", b"token", b"apikey")
_TOKEN_SHAPES = (b"eyJ", b"AKIA", b"ASIA", b"gh", b"glpat-", b"xox", b"AIza", b"sk-", b"PRIVATE")


def _always(data: bytes, lower: bytes) -> bool:
    return True


def _has_token(data: bytes, lower: bytes) -> bool:
    return any(w in lower for w in _TOKEN_WORDS) or any(w in data for w in _TOKEN_SHAPES)


def _has_at(data: bytes, lower: bytes) -> bool:
    return b"@" in data


def _has_dot(data: bytes, lower: bytes) -> bool:
    return b"." in data


def _may_hold_ipv6(data: bytes, lower: bytes) -> bool:
    # A valid IPv6 address has "::" or all eight groups (seven colons).
    return b"::" in data or data.count(b":") >= 7


def _mark(kind: str) -> bytes:
    return b"[REDACTED:" + kind.encode() + b"]"


def _whole(kind: str) -> Replace:
    mark = _mark(kind)
    return lambda match: mark


def _sub(pattern: re.Pattern[bytes], replace: Replace) -> Callable[[bytes], bytes]:
    return lambda data: pattern.sub(replace, data)


def _sub_emails(data: bytes) -> bytes:
    # One address's domain can run into the next one's local part ("a@b/c@d.org"); the
    # pattern never starts inside a run, so it finds the second only on the next pass.
    # Every pass that changes something removes an "@": this ends.
    while True:
        redacted = _EMAIL.sub(_email, data)
        if redacted == data:
            return data
        data = redacted


def _email(match: re.Match[bytes]) -> bytes:
    # Quotes may open a local part, but in text they mostly quote the address: keep them.
    text = match.group()
    lead = len(text) - len(text.lstrip(b"'`{|"))
    if 0 < lead < text.index(b"@"):
        return text[:lead] + _mark("email")
    return _mark("email")


def _valid_ipv6(match: re.Match[bytes]) -> bytes:
    try:
        ipaddress.IPv6Address(match.group().decode("ascii"))
    except ValueError:
        return match.group()
    return _mark("ip")


def _key_rule(kind: str, keys: list[str]) -> Rule:
    words = b"|".join(re.escape(k.encode()).replace(rb"_", rb"[_.-]?") for k in keys)
    # The key ends with one of the words (db_password, X-Api-Key), then a separator. Tried
    # only where a run of key characters starts: from inside a run it was quadratic.
    pattern = re.compile(
        rb"(?i)((?<![A-Za-z0-9_.-])(?:[A-Za-z0-9_.-]*[_.-])?(?:" + words + rb")"
        rb"""["']?[ \t]*[:=][ \t]*)""" + _VALUE
    )
    mark = _mark(kind)
    # Every key holds its first segment: a superset test ("api" for api_key, api-key, ApiKey).
    firsts = tuple({k.lower().split("_")[0].encode() for k in keys})
    return (
        _sub(pattern, lambda match: match.group(1) + mark),
        lambda data, lower: any(w in lower for w in firsts),
    )


class Redactor:
    """Applies the configured rules, in a fixed order, to bytes.

    >>> r = Redactor(RedactionConfig())
    >>> r.redact(b'{"user_id": "u-829", "msg": "mail bob@example.org from 10.1.2.3"}')
    b'{"user_id": [REDACTED:user], "msg": "mail [REDACTED:email] from [REDACTED:ip]"}'
    >>> r.redact(b"GET /x?api_key=abc123&page=2 Authorization: Bearer eyJhbGciOi.x")
    b'GET /x?api_key=[REDACTED:secret]&page=2 Authorization: [REDACTED:secret]'
    """

    def __init__(self, config: RedactionConfig) -> None:
        self.max_bytes = config.dlq_max_bytes
        rules: list[Rule] = []
        # Key rules first: a password that looks like an e-mail is still a password.
        if config.secret_keys:
            rules.append(_key_rule("secret", config.secret_keys))
        if config.user_keys:
            rules.append(_key_rule("user", config.user_keys))
        if config.tokens:
            rules.append((_sub(_TOKENS, _whole("token")), _has_token))
        for kind, pattern in config.patterns.items():
            rules.append((_sub(re.compile(pattern.encode()), _whole(kind)), _always))
        if config.emails:
            rules.append((_sub_emails, _has_at))
        if config.ip_addresses:
            rules.append((_sub(_IPV4, _whole("ip")), _has_dot))
            rules.append((_sub(_IPV6, _valid_ipv6), _may_hold_ipv6))
        self._rules = rules

    def redact(self, data: bytes) -> bytes:
        """``data`` with every match of every rule replaced by ``[REDACTED:<kind>]``."""
        lower = data.lower()
        for sub, worth_running in self._rules:
            if worth_running(data, lower):
                redacted = sub(data)
                if redacted != data:
                    data, lower = redacted, redacted.lower()
        return data

    def redact_text(self, text: str) -> str:
        """The same for text (a reason that quotes its input)."""
        return self.redact(text.encode("utf-8", "surrogateescape")).decode("utf-8", "replace")

    def capped(self, data: bytes) -> bytes:
        """At most ``max_bytes`` of ``data``, redacted; long input is not scanned past the cap."""
        return self.redact(data[: self.max_bytes + _MARGIN])[: self.max_bytes]
