"""The flow's notification side: route and silence each notification, then deliver it.

``NotificationDispatch`` is a step over decision batches: it fills a notification's
``receivers`` and ``suppressed_by`` (so the ``notifications`` output says where each went
and why not). ``NotifierSink`` stores what is to be sent in the outbox and wakes the
process's deliverer.
"""

import logging
import time
from pathlib import Path

from alertflow.dataflows.notifier import Deliverer, Receiver
from alertflow.dataflows.notify_outbox import Delivery, Outbox
from alertflow.operators.decisions import Decision
from alertflow.operators.delivery.dispatch import Dispatcher
from alertflow.operators.delivery.errors import DeliveryConfigError
from alertflow.operators.delivery.payloads import render
from alertflow.operators.delivery.routing import RoutingTree
from alertflow.operators.delivery.silences import (
    MaintenanceWindow,
    Silence,
    Suppressions,
    load_silences,
)
from alertflow.operators.ids import stable_id
from alertflow.schemas.config_notify import NotifyConfig
from alertflow.schemas.outputs import Notification
from bytewax.outputs import DynamicSink, StatelessSinkPartition

log = logging.getLogger("alertflow.notify")


class SilenceFile:
    """Silences kept in a JSON file (by ``alertflow silence`` or the API), re-read on change."""

    def __init__(self, path: Path | None, check_every_s: float = 1.0) -> None:
        self.path = path
        self._check_every_s = check_every_s
        self._checked = float("-inf")
        self._mtime: float | None = None
        self.silences: tuple[Silence, ...] = ()

    def current(self) -> tuple[Silence, ...]:
        """The file's silences; a file that fails to parse keeps the last good ones."""
        if self.path is None or time.monotonic() - self._checked < self._check_every_s:
            return self.silences
        self._checked = time.monotonic()
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self.silences, self._mtime = (), None
            return self.silences
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self.silences = load_silences(self.path)
            except DeliveryConfigError as exc:
                log.error("%s; keeping the %d silences read before", exc, len(self.silences))
        return self.silences


class NotificationDispatch:
    """Routes and silences the notifications of a decision batch (other decisions pass)."""

    def __init__(self, config: NotifyConfig) -> None:
        self._static = tuple(Silence.from_config(s) for s in config.silences)
        self._windows = tuple(MaintenanceWindow.from_config(w) for w in config.maintenance_windows)
        self._file = SilenceFile(config.silences_file)
        self._dispatcher = Dispatcher(RoutingTree(config.route), self._suppressions)

    def _suppressions(self) -> Suppressions:
        return Suppressions((*self._static, *self._file.current()), self._windows)

    def __call__(self, decisions: list[Decision]) -> list[Decision]:
        """The batch with every notification routed."""
        for decision in decisions:
            if decision.stream == "notifications":
                note = decision.record
                if not isinstance(note, Notification):
                    note = Notification.model_validate(note)
                decision.record = self._dispatcher.dispatch(note)
        return decisions


class _NotifierPartition(StatelessSinkPartition[Decision]):
    def __init__(self, config: NotifyConfig, outbox: Outbox, deliverer: Deliverer) -> None:
        self._config = config
        self._outbox = outbox
        self._deliverer = deliverer

    def write_batch(self, items: list[Decision]) -> None:
        now = time.time()
        deliveries = []
        for decision in items:
            note = decision.record
            if decision.stream != "notifications" or not isinstance(note, Notification):
                continue
            if note.suppressed_by is not None:
                continue
            body = note.model_dump(mode="json")
            for name in note.receivers:
                receiver = self._deliverer.receivers[name]
                request = render(receiver.config.type, receiver.config.url or "", body,
                                 receiver.token)
                deliveries.append(Delivery(stable_id(note.id, name), note.id, name, request.url,
                                           request.body, dict(request.headers), now, 0))
        if deliveries and self._outbox.add(deliveries):
            self._deliverer.wake()

    def close(self) -> None:
        self._deliverer.stop(self._config.drain_timeout_s)
        self._outbox.close()


class NotifierSink(DynamicSink[Decision]):
    """Stores deliveries durably and sends them from a thread in each worker."""

    def __init__(self, config: NotifyConfig, outbox: Path) -> None:
        self.config = config
        self.outbox = outbox
        # Secrets are read now, so a missing one stops the job before it starts.
        self.receivers = {r.name: Receiver.from_config(r) for r in config.receivers}

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _NotifierPartition:
        """One outbox connection and one delivering thread per worker."""
        outbox = Outbox(self.outbox)
        deliverer = Deliverer(outbox, self.receivers, self.config.retry)
        deliverer.start()
        return _NotifierPartition(self.config, outbox, deliverer)
