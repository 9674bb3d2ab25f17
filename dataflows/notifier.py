"""Deliver routed notifications to their receivers, through the durable outbox.

The sink stores each (notification, receiver) delivery in the outbox before the batch
counts as written, then wakes this process's ``Deliverer``: a thread that sends due
deliveries with retries (exponential backoff, full jitter, ``Retry-After`` honoured),
per-receiver rate limits and circuit breakers, and marks dead what a receiver rejects
(4xx) or what never succeeds within ``notify.retry.give_up_after_s``.
"""

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from alertflow.dataflows.notify_outbox import Delivery, Outbox
from alertflow.operators.delivery.pacing import Backoff, CircuitBreaker, TokenBucket
from alertflow.operators.delivery.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from alertflow.schemas.config import ConfigError
from alertflow.schemas.config_notify import NotifyConfig, ReceiverConfig, RetryConfig, Secret

log = logging.getLogger("alertflow.notify")
_RETRYABLE = {408, 425, 429}
_LEASE_S = 120.0


def read_secret(secret: Secret, what: str) -> str:
    """A secret's value from its environment variable or file; a clear error when missing."""
    if secret.env is not None:
        value = os.environ.get(secret.env)
        if not value:
            raise ConfigError(f"{what}: environment variable {secret.env} is not set")
        return value
    assert secret.file is not None
    try:
        return secret.file.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {secret.file}: {exc.strerror}") from None


@dataclass
class Receiver:
    """A configured receiver with its secrets read and its pacing state."""

    config: ReceiverConfig
    signing_key: bytes | None
    token: str | None
    bucket: TokenBucket
    breaker: CircuitBreaker

    @classmethod
    def from_config(cls, config: ReceiverConfig) -> "Receiver":
        """Read the receiver's secrets now, so a missing one fails at start, not at 3 am."""
        what = f"notify receiver {config.name!r}"
        key = read_secret(config.signing_secret, what).encode() if config.signing_secret else None
        token = read_secret(config.token, what) if config.token else None
        return cls(config, key, token,
                   TokenBucket(config.rate_per_minute / 60.0, config.burst),
                   CircuitBreaker(config.failures_to_open, config.open_for_s))


@dataclass
class Deliverer:
    """Sends the outbox's due deliveries; ``start`` runs it on a thread, ``wake`` nudges it."""

    outbox: Outbox
    receivers: dict[str, Receiver]
    retry: RetryConfig
    client: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    poll_s: float = 0.5
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Attempt every due delivery once; the number of requests sent."""
        sent = 0
        probing: set[str] = set()
        for delivery in self.outbox.claim(self.clock(), _LEASE_S):
            if self._stop.is_set():
                break
            sent += self._attempt(delivery, probing)
        return sent

    def start(self) -> None:
        """Deliver in the background until ``stop``."""
        self._thread = threading.Thread(target=self._loop, name="alertflow-notify", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New deliveries are in the outbox: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, drain_s: float) -> int:
        """Keep delivering for up to ``drain_s`` while anything is due, then stop; pending left."""
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and self.outbox.pending() > 0:
            self.wake()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        left = self.outbox.pending()
        if left:
            log.warning("%d notification deliveries still pending in %s; the next run with "
                        "this outbox sends them", left, self.outbox.path)
        return left

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # one bad row or a locked db must not kill delivery for good
                log.exception("notification delivery round failed; retrying")
                busy = 0
            if not busy:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _attempt(self, delivery: Delivery, probing: set[str]) -> int:
        now = self.clock()
        receiver = self.receivers.get(delivery.receiver)
        if receiver is None:
            self.outbox.dead(delivery.key, f"receiver {delivery.receiver!r} is not configured")
            return 0
        if now - delivery.created_s > self.retry.give_up_after_s:
            self.outbox.dead(delivery.key, f"gave up after {delivery.attempts} attempts")
            return 0
        breaker = receiver.breaker
        if not breaker.allows(now) or (breaker.state == "open" and delivery.receiver in probing):
            self.outbox.postpone(delivery.key, (breaker.opened_at or now) + breaker.open_for_s)
            return 0
        if breaker.state == "open":
            probing.add(delivery.receiver)  # half-open: this one request probes the receiver
        wait = receiver.bucket.take(now)
        if wait > 0:
            self.outbox.postpone(delivery.key, now + wait)
            return 0
        self._send(delivery, receiver, now)
        return 1

    def _send(self, delivery: Delivery, receiver: Receiver, now: float) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "alertflow",
                   IDEMPOTENCY_HEADER: delivery.notification_id, **delivery.headers}
        if receiver.signing_key is not None:
            headers[SIGNATURE_HEADER] = sign(receiver.signing_key, delivery.body, int(now))
        try:
            response = self.client.post(delivery.url, content=delivery.body, headers=headers,
                                        timeout=receiver.config.timeout_s)
        except httpx.HTTPError as exc:
            self._failed(delivery, receiver, f"{type(exc).__name__}: {exc}", None)
            return
        status = response.status_code
        if 200 <= status < 300:
            receiver.breaker.succeeded()
            self.outbox.delivered(delivery.key)
        elif status >= 500 or status in _RETRYABLE:
            self._failed(delivery, receiver, f"HTTP {status}: {response.text[:200]}",
                         _retry_after(response))
        else:  # the receiver understood and refused: retrying cannot help
            receiver.breaker.succeeded()
            self.outbox.dead(delivery.key, f"rejected with HTTP {status}: {response.text[:200]}")

    def _failed(self, delivery: Delivery, receiver: Receiver, error: str,
                retry_after: float | None) -> None:
        now = self.clock()
        receiver.breaker.failed(now)
        backoff = Backoff(self.retry.initial_s, self.retry.max_s, self.rng)
        delay = backoff.delay(delivery.attempts + 1)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry.max_s))
        log.info("delivery of %s to %s failed (%s); retry in %.1f s",
                 delivery.notification_id, delivery.receiver, error, delay)
        self.outbox.retry(delivery.key, now + delay, error)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def outbox_path(config: NotifyConfig, recovery_dir: Path | None, output_dir: Path | None) -> Path:
    """Where the outbox lives: as configured, else beside the recovery state or the outputs."""
    if config.outbox is not None:
        return config.outbox
    for directory in (recovery_dir, output_dir):
        if directory is not None:
            return directory / "notify-outbox.sqlite"
    raise ConfigError("notify: set notify.outbox (a file path) when the output is Kafka and "
                      "there is no --recovery-dir; undelivered notifications are kept there")
