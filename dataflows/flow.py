"""``build_flow``: the alertflow dataflow, one line per step."""

from datetime import timedelta
from functools import partial

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.outputs import Sink
from opentelemetry.trace import TracerProvider

from dataflows.logic import (
    IncidentLogic,
    SeriesScoringLogic,
    ServiceWindowLogic,
    domain_of,
    make_series_scorer,
)
from dataflows.sinks import JsonlDirSink, build_sink, to_kafka_message
from dataflows.sources import build_source
from dataflows.telemetry import LatencyStats, tracer_provider_for
from operators.decisions import Decision
from operators.intake import Intake
from operators.normalize import LabelPolicy, SeriesNormalizer
from operators.red_metrics import service_key
from operators.tracing import DecisionTracer
from schemas.config import INPUT_STREAMS, AlertflowConfig, ConfigError
from schemas.records import MetricSample


def build_flow(
    config: AlertflowConfig,
    tracer_provider: TracerProvider | None = None,
    extra_sinks: tuple[Sink[Decision], ...] = (),
) -> Dataflow:
    """Wire inputs → decode → (derive series | score | correlate) → outputs."""
    if not any(config.inputs.values()):
        raise ConfigError("no inputs: give at least one --input STREAM=URI")
    flow = Dataflow("alertflow")
    decoded: dict[str, list[Stream]] = {stream: [] for stream in INPUT_STREAMS}
    for stream, uris in config.inputs.items():
        for i, uri in enumerate(uris):
            raw = op.input(f"in_{stream}_{i}", flow, build_source(uri, config))
            # KafkaSourceMessage | KafkaError | FileLine
            decoded[stream].append(
                op.flat_map_batch(f"decode_{stream}_{i}", raw, Intake(stream).decode_batch)
            )  # record | Decision(dlq)
    outputs: list[Stream[Decision]] = []
    valid: dict[str, Stream] = {}
    for stream, parts in decoded.items():
        if parts:
            split = op.branch(f"dlq_{stream}", op.merge(f"merge_{stream}", *parts), _is_decision)
            outputs.append(split.trues)  # Decision(dlq)
            valid[stream] = split.falses  # the stream's records
    series = [valid[s] for s in ("metrics",) if s in valid]  # MetricSample
    service_events = [valid[s] for s in ("traces", "logs") if s in valid]  # SpanEvent | LogEvent
    if service_events:
        series.append(_derived_series(op.merge("service_events", *service_events), config))
    if series:
        outputs.append(_scoring(op.merge("series", *series), config))
    if "alerts" in valid:
        outputs.append(_correlation(valid["alerts"], config))
    decisions = op.merge("decisions", *outputs)  # Decision
    provider = tracer_provider or tracer_provider_for(config.tracing)
    if provider is not None:
        tracer = DecisionTracer(provider.get_tracer("alertflow"))
        decisions = op.map("trace", decisions, tracer.trace)  # Decision (span recorded)
    if config.runtime.stats_file is not None:
        decisions = op.map("measure", decisions, LatencyStats(config.runtime.stats_file).record)
    _emit(decisions, config)
    for i, sink in enumerate(extra_sinks):
        op.output(f"extra_out_{i}", decisions, sink)
    return flow


def _is_decision(item: object) -> bool:
    return isinstance(item, Decision)


def _scoring(samples: Stream, config: AlertflowConfig) -> Stream[Decision]:
    policy = LabelPolicy(frozenset(config.labels.drop), config.labels.max_value_len)
    keyed = op.flat_map_batch("normalize", samples, SeriesNormalizer(policy).normalize)
    # (series_key, MetricSample)
    builder = partial(
        _scoring_logic, config=config, idle=timedelta(seconds=config.scoring.series_idle_s)
    )
    scored = op.stateful_batch("score", keyed, builder)  # (series_key, Decision)
    return op.key_rm("unkey_scores", scored)  # Decision


def _scoring_logic(resume, *, config: AlertflowConfig, idle: timedelta) -> SeriesScoringLogic:
    return SeriesScoringLogic(resume, partial(make_series_scorer, config), idle)


def _derived_series(events: Stream, config: AlertflowConfig) -> Stream[MetricSample]:
    default = config.correlation.default_domain
    keyed = op.key_on("by_service", events, partial(service_key, default_cluster=default))
    # (cluster/service, SpanEvent | LogEvent)
    windows = op.stateful_batch("windows", keyed, partial(ServiceWindowLogic, config=config))
    # (cluster/service, MetricSample)
    return op.key_rm("unkey_windows", windows)  # MetricSample


def _correlation(alerts: Stream, config: AlertflowConfig) -> Stream[Decision]:
    keyed = op.key_on("by_domain", alerts, partial(domain_of, config=config.correlation))
    # (domain, AlertEvent)
    grouped = op.stateful_batch("group", keyed, partial(IncidentLogic, config=config.correlation))
    # (domain, Decision)
    return op.key_rm("unkey_incidents", grouped)  # Decision


def _emit(decisions: Stream[Decision], config: AlertflowConfig) -> None:
    sink = build_sink(config)
    if isinstance(sink, JsonlDirSink):
        if config.runtime.recovery_dir is None and not config.runtime.process_id:
            # Process 0 clears before the cluster starts; the others wait for it to connect.
            sink.clear()
        op.output("out", op.key_on("by_stream", decisions, _stream_of), sink)
    else:
        encode = partial(to_kafka_message, topic_prefix=config.topic_prefix)
        op.output("out", op.map("to_kafka", decisions, encode), sink)  # KafkaSinkMessage


def _stream_of(decision: Decision) -> str:
    return decision.stream
