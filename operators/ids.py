"""Deterministic record ids: a replay after a crash re-emits the same ids."""

import hashlib


def stable_id(*parts: object) -> str:
    r"""Hash the parts into a 32-hex-digit id.

    >>> stable_id("cpu{host=\"a\"}", 1795600800000000000)
    '7ba23c01634b1fcfb5a2ef0e326b444a'
    """
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(str(part).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()
