"""librdkafka's log lines and client errors, each kind at most once per interval.

Left to itself, librdkafka prints a line for every failed connection attempt of
every client: ~40 a second with a few consumers and a producer facing a broker
that is down. Every client of the job logs through one :class:`ClientLog`, which
prints the first line of a kind, counts the repeats, and says how many it held
back when the kind is printed again.
"""

import re
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from confluent_kafka import KafkaError

# Python logging levels, as confluent-kafka maps librdkafka's syslog levels onto them.
_DEBUG = 10

# What varies between repeats of one kind: numbers (ports, ms, counts) and client names.
_VARYING = re.compile(r"\d+")
_THREAD = re.compile(r"^\[thrd:[^\]]*\]: ")
# Transport errors reach error_cb as well as the log: print them once, from the log.
_LOGGED_TOO = (KafkaError._TRANSPORT,)


class ClientLog:
    """A ``logger`` and ``error_cb`` for librdkafka clients that rate-limits by kind.

    >>> import io
    >>> out, now = io.StringIO(), [0.0]
    >>> log = ClientLog(30.0, out=out, clock=lambda: now[0])
    >>> for ms in (0, 1, 2):
    ...     log.log(40, "%s [%s] %s", "FAIL", "rdkafka#producer-1", f"refused (after {ms}ms)")
    >>> now[0] = 31.0
    >>> log.log(40, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "refused (after 5ms)")
    >>> print(out.getvalue(), end="")
    alertflow: kafka: FAIL refused (after 0ms)
    alertflow: kafka: FAIL refused (after 5ms) (and 2 more like it)
    """

    def __init__(
        self,
        interval_s: float,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._out = out
        self._clock = clock
        self._last_printed: dict[str, float] = {}
        self._held_back: dict[str, int] = {}
        # Callbacks come from whichever worker thread polls its client.
        self._lock = threading.Lock()

    def log(self, level: int, fmt: str, *args: object) -> None:
        """What confluent-kafka calls for each log line (``logging.Logger.log``'s signature)."""
        if level <= _DEBUG:
            return
        if len(args) >= 3:  # "%s [%s] %s": facility, client name, text
            facility, text = str(args[0]), _THREAD.sub("", str(args[2]))
        else:
            facility, text = "", fmt % args
        self._emit(f"{facility} {_VARYING.sub('#', text)}", f"{facility} {text}")

    def on_error(self, error: KafkaError) -> None:
        """What confluent-kafka calls for client-level errors (``error_cb``)."""
        if error.code() in _LOGGED_TOO:
            return
        self._emit(f"error {error.code()}", error.str())

    def _emit(self, kind: str, line: str) -> None:
        with self._lock:
            now = self._clock()
            last = self._last_printed.get(kind)
            if last is not None and now - last < self.interval_s:
                self._held_back[kind] = self._held_back.get(kind, 0) + 1
                return
            self._last_printed[kind] = now
            held = self._held_back.pop(kind, 0)
        more = f" (and {held} more like it)" if held else ""
        out = self._out or sys.stderr
        out.write(f"alertflow: kafka: {line}{more}\n")
        out.flush()


_SHARED: dict[float, ClientLog] = {}
_SHARED_LOCK = threading.Lock()


def client_log(interval_s: float) -> ClientLog:
    """The process's one :class:`ClientLog` for this interval, shared by all its clients."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(interval_s, ClientLog(interval_s))
