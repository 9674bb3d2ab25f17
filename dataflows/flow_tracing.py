"""The tracing steps of the flow, kept out of ``build_flow`` so it still reads like the diagram."""

from pathlib import Path

import bytewax.operators as op
from alertflow.dataflows.uris import parse_location
from alertflow.operators.trace_context import MessageTracer, SpanRegistry
from alertflow.operators.tracing import DecisionTracer
from alertflow.schemas.config import AlertflowConfig
from bytewax.dataflow import Stream
from opentelemetry.trace import TracerProvider


class FlowTracing:
    """Consumer spans at the inputs, decision spans at the outputs, one registry between them."""

    def __init__(self, provider: TracerProvider, config: AlertflowConfig) -> None:
        self.tracer = provider.get_tracer("alertflow")
        self.registry = SpanRegistry()
        kafka_out = config.output is not None and not isinstance(
            parse_location(config.output), Path
        )
        self.decision_tracer = DecisionTracer(
            self.tracer, self.registry, config.topic_prefix if kafka_out else None
        )
        self._alerts = MessageTracer(self.tracer, self.registry, "alerts")

    def inputs(self, step_id: str, polls: Stream[list], stream: str) -> Stream[list]:
        """A consumer span per Kafka message, continued from its ``traceparent``."""
        tracer = MessageTracer(self.tracer, self.registry, stream)
        return op.map(f"trace_in_{step_id}", polls, tracer.trace_polls)

    def alerts(self, alerts: Stream[list]) -> Stream[list]:
        """Remember each alert fingerprint's message span, for incidents to link to."""
        return op.map("trace_alerts", alerts, self._alerts.remember_alerts)

    def decisions(self, decisions: Stream[list]) -> Stream[list]:
        """A span per decision, parented and linked; sets ``Decision.traceparent``."""
        return op.map("trace", decisions, self.decision_tracer.trace_all)
