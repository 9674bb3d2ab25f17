"""Deterministic record ids: a replay after a crash re-emits the same ids."""

import hashlib


def stable_id(*parts: object) -> str:
    r"""Hash the parts into a 32-hex-digit id.

    >>> stable_id("cpu{host=\"a\"}", 1795600800000000000)
    '7ba23c01634b1fcfb5a2ef0e326b444a'
    """
    # Each part is followed by a unit separator, so ("ab", "c") and ("a", "bc") differ.
    # str(part) is f"{part}" (format with no spec): the same text, without a generator.
    joined = "\x1f".join(map(str, parts)) + "\x1f" if parts else ""
    return hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def series_id_prefix(series: str) -> str:
    """The first half of a per-sample id: 16 hex digits identifying the series."""
    return hashlib.blake2b(series.encode(), digest_size=8).hexdigest()


# The time half of recent sample ids: every series of one scrape shares its timestamp, and
# formatting 16 hex digits cost more than the rest of the id (bench/throughput_steps.py).
_TIME_HALVES: dict[int, str] = {}
_TIME_HALVES_MAX = 4096
# Read inline by a loop over many records (operators.score_block): hit, else sample_id("", ts).
TIME_HALVES = _TIME_HALVES


def sample_id(prefix: str, ts_ns: int) -> str:
    """The id of one series' sample: its series prefix then the timestamp, 32 hex digits.

    Per-sample records are the hottest path, so the series half is hashed once per
    series (:func:`series_id_prefix`) and the time half is the timestamp itself;
    replays give the same ids and distinct samples never share one.

    >>> sample_id(series_id_prefix("up"), 5)[16:]
    '0000000000000005'
    """
    half = _TIME_HALVES.get(ts_ns)
    if half is None:
        if len(_TIME_HALVES) >= _TIME_HALVES_MAX:
            _TIME_HALVES.clear()
        half = _TIME_HALVES[ts_ns] = f"{ts_ns & 0xFFFF_FFFF_FFFF_FFFF:016x}"
    return prefix + half
