"""State keys that Bytewax routes to the worker reading a given input partition.

Bytewax 0.21 sends a keyed item to worker ``h % n`` of ``n`` workers, where ``h`` is
Rust's ``DefaultHasher`` (SipHash-1-3, both keys zero) of the key string's bytes and a
``0xff`` terminator (``StateKey``'s derived ``Hash``; the ``partition`` operator of
``src/timely.rs``). It hands a source's partitions to workers in turn: the ``j``-th of the
sorted part names goes to worker ``j % n`` (``calc_primaries``: every worker lists every
part, and a part goes to the first worker with the fewest parts so far).

So a key whose hash is ``j`` modulo :data:`PERIOD` lands on the worker that reads part
``j`` for every worker count dividing :data:`PERIOD`, and the key does not depend on the
worker count: a job resumed with another count finds its state under the same keys.
Items keyed so stay in the process that read them, and are never pickled. With any other
worker count the key is routed as any key is: correct, only not local. Both rules are the
engine's, not its API: ``tests/test_routing.py`` checks them on the installed Bytewax, so
an upgrade that changes them fails there rather than silently pickling again.
"""

import numpy as np

# 1-6, 8, 10, 12, 15, 16, 20, 24, 30, 40, 48, 60, 80, 120 and 240 workers; a key costs
# ~240 hashes to find, all tried at once (numpy), once per part and shard.
PERIOD = 240
_SALTS = 1024  # suffixes tried together (none fits: odds 1.4%; then the next 1,024)


# SipHash-1-3 with k0 = k1 = 0: the initial state is the constants alone.
_INIT = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)


def key_hash(key: str) -> int:
    """The 64-bit hash Bytewax routes a state key by.

    >>> key_hash("")
    3476900567878811119
    """
    data = np.frombuffer(key.encode() + b"\xff", dtype=np.uint8)
    return int(_siphash_rows(data[np.newaxis, :])[0])


def worker_of(key: str, workers: int) -> int:
    """The worker (of ``workers``) that a keyed step runs ``key`` on."""
    return key_hash(key) % workers


def key_beside(base: str, part_index: int) -> str:
    """``base`` with the first suffix ``~XXXX`` (hex) that routes it beside part ``part_index``.

    >>> key = key_beside("metrics/3.s7", 3)
    >>> key, [worker_of(key, n) for n in (1, 2, 3, 4, 5, 6)]
    ('metrics/3.s7~0032', [0, 1, 0, 3, 3, 3])
    """
    want = part_index % PERIOD
    for first in range(0, 1 << 16, _SALTS):
        salts = np.arange(first, first + _SALTS)
        hashes = _hashes(base, salts)
        fits = np.flatnonzero(hashes % np.uint64(PERIOD) == np.uint64(want))
        if fits.size:
            return f"{base}~{int(salts[fits[0]]):04x}"
    raise AssertionError(f"no suffix routes {base!r} beside part {part_index}")  # pragma: no cover


def _hashes(base: str, salts: np.ndarray) -> np.ndarray:
    """:func:`key_hash` of ``f"{base}~{salt:04x}"`` for every salt, as one array."""
    head = base.encode() + b"~"
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    rows = np.empty((salts.size, len(head) + 5), dtype=np.uint8)
    rows[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    for i in range(4):
        rows[:, len(head) + i] = hexdigits[(salts >> (12 - 4 * i)) & 0xF]
    rows[:, -1] = 0xFF
    return _siphash_rows(rows)


def _siphash_rows(rows: np.ndarray) -> np.ndarray:
    """SipHash-1-3 (keys zero) of each row of a ``uint8`` matrix of equal-length messages."""
    count, size = rows.shape
    tail = size % 8
    padded = np.zeros((count, size - tail + 8), dtype=np.uint8)
    padded[:, :size] = rows
    words = padded.view("<u8")
    words[:, -1] |= np.uint64((size & 0xFF) << 56)
    with np.errstate(over="ignore"):
        v = [np.full(count, c, dtype=np.uint64) for c in _INIT]
        for j in range(words.shape[1]):
            m = words[:, j]
            v[3] ^= m
            _round_arrays(v)
            v[0] ^= m
        v[2] ^= np.uint64(0xFF)
        for _ in range(3):
            _round_arrays(v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def _rotl_array(x: np.ndarray, b: int) -> np.ndarray:
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


def _round_arrays(v: list[np.ndarray]) -> None:
    v0, v1, v2, v3 = v
    v0 = v0 + v1
    v1 = _rotl_array(v1, 13) ^ v0
    v0 = _rotl_array(v0, 32)
    v2 = v2 + v3
    v3 = _rotl_array(v3, 16) ^ v2
    v0 = v0 + v3
    v3 = _rotl_array(v3, 21) ^ v0
    v2 = v2 + v1
    v1 = _rotl_array(v1, 17) ^ v2
    v2 = _rotl_array(v2, 32)
    v[:] = [v0, v1, v2, v3]


class PartKeys(dict):
    """One partition's state keys by series shard (``shard_of``'s number), found as needed.

    A partition has ``own`` shards of its own: series shard ``s`` falls in its shard
    ``s % own``. A dict, so that a sample's key costs one subscript once it is found.
    """

    __slots__ = ("base", "index", "own", "shards")

    def __init__(self, base: str, index: int, own: int, shards: int) -> None:
        super().__init__()
        self.base = base  # e.g. "alertflow.metrics/0": what the keys spell before the shard
        self.index = index  # the partition's place among its source's sorted parts
        self.own = own
        self.shards = shards

    def __missing__(self, shard: int) -> str:
        own = shard % self.own
        name = key_beside(f"{self.base}.s{own}", self.index)
        self.update(dict.fromkeys(range(own, self.shards, self.own), name))
        return name


# A partition's ref prefix ("topic/partition@", as operators.intake writes refs) -> its
# place among its topic's parts in Bytewax's order, and how many parts the topic has;
# filled as each process lists the parts of its Kafka inputs, before the first poll.
_PART_INDEX: dict[str, tuple[int, int]] = {}


def remember_parts(topic: str, parts: list[str]) -> None:
    """Note the place of each ``"<partition>-<topic>"`` part: Bytewax sorts them as strings."""
    for index, part in enumerate(sorted(parts)):
        _PART_INDEX[f"{topic}/{part.partition('-')[0]}@"] = (index, len(parts))


class LocalShards:
    """The :class:`PartKeys` of a ref prefix of one of ``topics``, else None.

    Only the metrics inputs' topics: a derived series (a service's window, a log
    template's counts) carries the ref of a span or line of another topic, and must stay
    keyed by series. A topic's partitions share the ``shards``: each has ``shards //
    partitions`` (at least one), so a poll's samples make as many keyed items as they did
    by series alone: the engine's cost per key and activation is paid no more often.
    """

    def __init__(self, shards: int, topics: frozenset[str]) -> None:
        self.shards = shards
        self.topics = topics
        self._parts: dict[str, PartKeys | None] = {}

    def __call__(self, prefix: str) -> PartKeys | None:
        """The keys for samples whose refs start with ``prefix``."""
        keys = self._parts.get(prefix, False)
        if keys is not False:
            return keys  # type: ignore[return-value]
        if prefix.rpartition("/")[0] not in self.topics:
            self._parts[prefix] = None  # another stream's message: keyed by series
            return None
        listed = _PART_INDEX.get(prefix)
        if listed is None:
            return None  # not listed (yet): keyed by series
        index, parts = listed
        keys = PartKeys(prefix[:-1], index, max(1, self.shards // parts), self.shards)
        self._parts[prefix] = keys
        return keys
