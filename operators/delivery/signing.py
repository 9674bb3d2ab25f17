"""Signed, replay-safe webhook requests (HMAC-SHA256 over the timestamp and the body).

Each request carries ``X-Alertflow-Signature: t=<unix seconds>,v1=<hex>``, where
``v1 = HMAC-SHA256(secret, f"{t}." + body)``. A receiver recomputes it over the raw
body, compares in constant time, and rejects a ``t`` older than its tolerance (so a
captured request cannot be replayed later). Verification, as a receiver would write it::

    import hashlib, hmac, time

    def verify(secret: bytes, body: bytes, header: str, tolerance_s: int = 300) -> bool:
        fields = dict(part.split("=", 1) for part in header.split(","))
        signed = f"{fields['t']}.".encode() + body
        expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(fields["t"])) <= tolerance_s
        return fresh and hmac.compare_digest(expected, fields["v1"])

>>> header = sign(b"s3cret", b'{"a":1}', now_s=1_800_000_000)
>>> header
't=1800000000,v1=476d445fc5d734bcaf69961f0de38cb8c2ec42450829655895ca5e064c0765c9'
>>> verify(b"s3cret", b'{"a":1}', header, now_s=1_800_000_100)
True
>>> verify(b"s3cret", b'{"a":2}', header, now_s=1_800_000_100)
False
>>> verify(b"s3cret", b'{"a":1}', header, now_s=1_800_001_000)  # replayed 1,000 s later
False
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Alertflow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: bytes, body: bytes, now_s: int) -> str:
    """The signature header's value for ``body`` sent at ``now_s``."""
    digest = hmac.new(secret, f"{now_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={now_s},v1={digest}"


def verify(secret: bytes, body: bytes, header: str, now_s: int, tolerance_s: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` old."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        sent = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret, f"{sent}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(now_s - sent) <= tolerance_s and hmac.compare_digest(expected, given)
