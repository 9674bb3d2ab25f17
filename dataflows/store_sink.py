"""Bytewax sinks writing the flow's outputs (and the alerts it reads) into the store."""

import threading

import sqlalchemy as sa
from alertflow.operators.decisions import Decision
from alertflow.schemas.records import AlertEvent
from alertflow.store.writer import StoreWriter
from bytewax.outputs import DynamicSink, StatelessSinkPartition

STORED = ("incidents", "anomalies", "predictions", "dlq")


class _DecisionPartition(StatelessSinkPartition[Decision]):
    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer

    def write_batch(self, items: list[Decision]) -> None:
        # One transaction per batch; ids make a replayed batch a no-op.
        self.writer.write((d.stream, _fields(d)) for d in items if d.stream in STORED)


def _fields(decision: Decision) -> dict:
    record = decision.record
    return record if isinstance(record, dict) else record.model_dump(mode="json")


class StoreSink(DynamicSink[Decision]):
    """Writes incidents (versions and current state), anomalies, predictions and dead letters.

    ``started`` is set when a worker builds its partition: the flow is running.
    """

    def __init__(self, engine: sa.Engine, started: threading.Event | None = None) -> None:
        self.engine = engine
        self.started = started

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DecisionPartition:
        """One writer per worker."""
        if self.started is not None:
            self.started.set()
        return _DecisionPartition(StoreWriter(self.engine))


class _AlertPartition(StatelessSinkPartition[AlertEvent]):
    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer

    def write_batch(self, items: list[AlertEvent]) -> None:
        self.writer.write_alerts(items)


class AlertStoreSink(DynamicSink[AlertEvent]):
    """Writes the alert notifications the flow reads, for alert analytics."""

    def __init__(self, engine: sa.Engine, team_label: str = "team") -> None:
        self.engine = engine
        self.team_label = team_label

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        """One writer per worker."""
        return _AlertPartition(StoreWriter(self.engine, self.team_label))
