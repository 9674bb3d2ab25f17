"""``build_flow``: the alertflow dataflow, one line per step.

Items travel as lists (a poll's records, a shard's decisions) so the engine's
per-item cost is paid per batch; they fan out to single records only at the sink.
"""

from functools import partial
from pathlib import Path

import bytewax.operators as op
from alertflow.dataflows.estate_digest_step import EstateDigestLogic, apart, digests_only
from alertflow.dataflows.flow_tracing import FlowTracing
from alertflow.dataflows.governance import audit, redact
from alertflow.dataflows.job_metrics import JobMetrics
from alertflow.dataflows.logic import (
    EdgeJoinLogic,
    EntityLogic,
    IncidentLogic,
    LogPatternLogic,
    ServiceWindowLogic,
    ShardPredictionLogic,
    ShardScoringLogic,
    domain_of,
    joined,
    keyed_batch,
    make_shard_scorer,
    step_clock,
)
from alertflow.dataflows.notifier import outbox_path
from alertflow.dataflows.notify_sink import NotificationDispatch, NotifierSink
from alertflow.dataflows.routing import LocalShards
from alertflow.dataflows.run_summary import RunSummary
from alertflow.dataflows.sinks import JsonlDirSink, build_sink
from alertflow.dataflows.sources import build_source
from alertflow.dataflows.telemetry import LatencyStats, tracer_provider_for
from alertflow.dataflows.uris import kafka_inputs, parse_location
from alertflow.operators.correlation.anomaly_dedup import signal_of
from alertflow.operators.correlation.rank_levels import LevelSignal
from alertflow.operators.decisions import Decision
from alertflow.operators.entity_scoring import by_entity
from alertflow.operators.ids import stable_id
from alertflow.operators.intake import Intake
from alertflow.operators.normalize import LabelPolicy, SeriesNormalizer
from alertflow.operators.prediction import lstm
from alertflow.operators.prediction.lstm import WeightsError
from alertflow.operators.red_metrics import service_key
from alertflow.operators.redaction import Redactor
from alertflow.operators.score_block import ScoreBlock, expand
from alertflow.operators.trace_edges import trace_shard
from alertflow.schemas.config import INPUT_STREAMS, AlertflowConfig, ConfigError
from alertflow.schemas.records import AlertEvent, MetricSample
from bytewax.dataflow import Dataflow, Stream
from bytewax.outputs import Sink
from opentelemetry.trace import TracerProvider

Batch = list  # a list of records or of decisions


def build_flow(
    config: AlertflowConfig,
    tracer_provider: TracerProvider | None = None,
    extra_sinks: tuple[Sink[Decision], ...] = (),
    summary: RunSummary | None = None,
    metrics: JobMetrics | None = None,
    alert_sinks: tuple[Sink[AlertEvent], ...] = (),
) -> Dataflow:
    """Wire inputs → decode → (derive series | score | correlate) → outputs.

    With ``summary``, the inputs' polls and the output decisions are counted into it;
    with ``metrics`` (which reads that summary) the output latency is binned too.
    ``alert_sinks`` get every valid alert read (the store keeps them for analytics).
    Without ``config.output``, ``extra_sinks`` are the only outputs (``alertflow serve``).
    """
    if not any(config.inputs.values()):
        raise ConfigError("no inputs: give at least one --input STREAM=URI")
    flow = Dataflow("alertflow")
    decoded: dict[str, list[Stream[Batch]]] = {stream: [] for stream in INPUT_STREAMS}
    redactor = Redactor(config.redaction)  # what a dead letter keeps of its message
    provider = tracer_provider or tracer_provider_for(config.tracing)
    tracing = FlowTracing(provider, config) if provider is not None else None
    for stream, uris in config.inputs.items():
        intake = Intake(stream, redactor, config.intake.max_message_bytes)
        for i, uri in enumerate(uris):
            raw = op.input(f"in_{stream}_{i}", flow, build_source(uri, config, stream))
            # list[confluent_kafka.Message | FileLine]: one poll
            if tracing is not None:
                raw = tracing.inputs(f"{stream}_{i}", raw, stream)  # + a span per message
            if summary is not None:
                op.inspect(f"count_{stream}_{i}", raw, summary.input_counter(stream))
            decoded[stream].append(
                op.flat_map_batch(f"decode_{stream}_{i}", raw, intake.decode_batch)
            )  # list[record] | list[Decision(dlq)]
    outputs: list[Stream[Batch]] = []
    valid: dict[str, Stream[Batch]] = {}
    for stream, parts in decoded.items():
        if parts:
            split = op.branch(f"dlq_{stream}", op.merge(f"merge_{stream}", *parts), _is_decisions)
            outputs.append(split.trues)  # list[Decision(dlq)]
            valid[stream] = split.falses  # list[record]
    if tracing is not None and "alerts" in valid:
        valid["alerts"] = tracing.alerts(valid["alerts"])  # list[AlertEvent]
    for i, sink in enumerate(alert_sinks if "alerts" in valid else ()):
        op.output(f"alerts_out_{i}", op.flatten(f"alerts_flat_{i}", valid["alerts"]), sink)
    series = [valid[s] for s in ("metrics",) if s in valid]  # list[MetricSample]
    service_events = [valid[s] for s in ("traces", "logs") if s in valid]
    if "traces" in valid:
        service_events.append(_edge_calls(valid["traces"], config))  # list[EdgeCall]
    if service_events:
        series.append(_derived_series(op.merge("service_events", *service_events), config))
    correlated: list[Stream[list]] = [valid[s] for s in ("alerts",) if s in valid]
    if "logs" in valid and config.log_patterns.enabled:
        mined = op.branch("log_series", _log_patterns(valid["logs"], config), _is_samples)
        # list[MetricSample]: lines per template and bucket, one list per batch (see joined)
        series.append(op.flat_map_batch("template_lists", mined.trues, joined))
        correlated.append(mined.falses)  # list[LogSignal]
    if series:
        merged = op.merge("series", *series)  # list[MetricSample]
        if config.multivariate.enabled:
            outputs.append(_entities(merged, config))
        sharded = _sharded(merged, config)  # (shard, list[(series_key, MetricSample)])
        split = op.branch("levels_split", _scoring(sharded, config), _is_levels)
        scored = split.falses  # list[Decision]
        levels = split.trues  # list[LevelSignal]: internal, to correlation only
        outputs.append(scored)
        if config.prediction.thresholds:
            predicted = op.branch("prediction_split", _prediction(sharded, config), _is_decisions)
            outputs.append(predicted.trues)  # list[Decision(predictions)]
            correlated.append(predicted.falses)  # list[PredictionSignal]
        if config.correlation.anomalies:
            correlated.append(op.filter_map("anomaly_signals", scored, _anomaly_signals))
    if correlated:
        # Spans reach the correlator too: they teach each domain its call graph.
        events = correlated + [valid[s] for s in ("traces",) if s in valid]
        if series:
            events.append(levels)  # closed buckets: what changed at an incident's start
        incidents = _correlation(op.merge("correlation_events", *events), config)
        if config.correlation.noise_digest and config.correlation.noise_digest_scope == "estate":
            incidents = _estate_digest(incidents, config)
        if "feedback" in valid and config.feedback.enabled:
            incidents = _feedback(incidents, valid["feedback"], config)
        outputs.append(incidents)  # list[Decision]: incident versions and notifications
    decisions = op.merge("decisions", *outputs)  # list[Decision]
    decisions = redact(decisions, config)  # list[Decision], labels and text scrubbed
    if _notifying(config):
        decisions = op.map("route", decisions, NotificationDispatch(config.notify))
        # list[Decision]: notifications carry their receivers and any silence holding them
    if tracing is not None:
        decisions = tracing.decisions(decisions)  # list[Decision], spans recorded
    if config.runtime.stats_file is not None:
        stats = LatencyStats(config.runtime.stats_file)
        decisions = op.map("measure", decisions, stats.record_all)  # list[Decision]
    if summary is not None:
        op.inspect("summary", decisions, summary.record)
    if metrics is not None:
        op.inspect("job_metrics", decisions, metrics.observe)  # latency, a batch at a time
    if config.output or not extra_sinks:
        audited = audit(decisions, config)  # list[Decision], then list[Decision(audit)]
        _emit(audited, config)
    if config.notify.receivers:
        notes = op.flat_map("notifications", decisions, _notifications)  # Decision
        op.output("notify", notes, NotifierSink(config.notify, _outbox(config)))
    for i, sink in enumerate(extra_sinks):
        # One decision each: a store keeps records, so a ScoreBlock gives its rows.
        op.output(f"extra_out_{i}", op.flat_map(f"extra_flatten_{i}", decisions, expand), sink)
    return flow


def _joined(keyed: list[tuple[str, Batch]]) -> list[Batch]:
    # The shards' scores blocks join one block at the end: their rows keep their order, and
    # only the scores stream's place among the other streams (other topics) moves. Closed
    # level buckets stay a list of their own (they go to correlation, not to outputs).
    # A decision's audit chain is the state key that made it (anomalies, late samples' dead
    # letters): one key's output order is fixed, a shard number's is not when several keys
    # share it (series_partitioned), nor an input topic's when several steps feed it.
    joined: Batch = []
    levels: Batch = []
    rows = []
    for key, part in keyed:
        if part and type(part[0]) is LevelSignal:
            levels.extend(part)
            continue
        for item in part:
            if type(item) is ScoreBlock:
                rows.extend(item.rows)
                continue
            item.chain = f"scoring/{key}"
            joined.append(item)
    if rows:
        joined.append(ScoreBlock(rows))
    return [batch for batch in (joined, levels) if batch]


def _anomaly_signals(decisions: Batch) -> Batch | None:
    signals = [signal_of(d) for d in decisions if d.stream == "anomalies"]
    return signals or None  # list[AnomalySignal]


def _notifying(config: AlertflowConfig) -> bool:
    notify = config.notify
    return bool(notify.receivers or notify.silences or notify.silences_file
                or notify.maintenance_windows)


def _notifications(decisions: Batch) -> Batch:
    return [d for d in decisions if d.stream == "notifications"]


def _outbox(config: AlertflowConfig) -> Path:
    output = parse_location(config.output) if config.output else None
    output_dir = output if isinstance(output, Path) else None
    return outbox_path(config.notify, config.runtime.recovery_dir, output_dir)


def _is_decisions(batch: Batch) -> bool:
    return isinstance(batch[0], Decision)


def _is_levels(batch: Batch) -> bool:
    return isinstance(batch[0], LevelSignal)


def _is_samples(batch: Batch) -> bool:
    return isinstance(batch[0], MetricSample)


def _label_policy(config: AlertflowConfig) -> LabelPolicy:
    return LabelPolicy(frozenset(config.labels.drop), config.labels.max_value_len)


def _sharded(samples: Stream[Batch], config: AlertflowConfig) -> Stream[tuple]:
    shards = config.scoring.shards
    # Keyed by partition, a Kafka sample is scored where it was read: dataflows.routing.
    topics = frozenset(loc.topic for loc in kafka_inputs(config.inputs.get("metrics", [])))
    part_keys = LocalShards(shards, topics) if config.kafka.series_partitioned else None
    normalizer = SeriesNormalizer(_label_policy(config), shards=shards, part_keys=part_keys)
    return op.flat_map("shard", samples, normalizer.shard_batches)


def _scoring(sharded: Stream[tuple], config: AlertflowConfig) -> Stream[Batch]:
    _warm_scoring(config)  # numba's set-up now, not in the first poll's way
    scored = op.stateful_batch("score", sharded, partial(ShardScoringLogic, config=config))
    # The shards' lists of one activation as one list: at a low rate a poll spreads over
    # dozens of shards of a sample or two, and every later step paid its per-item cost each.
    return op.flat_map_batch("unkey_scores", scored, _joined)  # list[Decision]


def _warm_scoring(config: AlertflowConfig) -> None:
    """Score made-up samples on a scratch shard, so numba sets up and loads its kernels now.

    Its first call costs ~0.4 s of CPU per process (all of a compile when its cache is
    stale); left to the first poll, the first decisions waited for it, and with several
    processes one of them stalled while the others were already scoring.
    """
    scorer = make_shard_scorer(config)
    for n in (1, 3):  # one sample: the single-sample kernel; three: the rows kernel
        samples = [MetricSample("warm_up", {}, n * 10**9, 1.0) for _ in range(n)]
        scorer.process([(f"warm-up {i}", s) for i, s in enumerate(samples)], 0, blocks=True)


def _prediction(sharded: Stream[tuple], config: AlertflowConfig) -> Stream[Batch]:
    for spec in config.prediction.lstm:  # a bad weights file stops the start, not a worker
        try:
            lstm.cached(str(spec.weights))
        except WeightsError as exc:
            raise ConfigError(f"prediction.lstm: {exc}") from None
    # The same shards as scoring: the series keys are computed once for both.
    predicted = op.stateful_batch("predict", sharded, partial(ShardPredictionLogic, config=config))
    # list[Decision] | list[PredictionSignal]; a prediction's audit chain is its state key
    return op.map("unkey_predictions", predicted, _chained_predictions)


def _chained_predictions(keyed: tuple[str, Batch]) -> Batch:
    key, batch = keyed
    for item in batch:
        if isinstance(item, Decision):
            item.chain = f"prediction/{key}"
    return batch


def _entities(samples: Stream[Batch], config: AlertflowConfig) -> Stream[Batch]:
    group = partial(by_entity, by=tuple(config.multivariate.by), policy=_label_policy(config))
    keyed = op.flat_map("by_entity", samples, group)  # (entity, (entity, [(metric, v, ts)]))
    idle_s = config.governance.idle.entity_s
    logic = partial(EntityLogic, config=config.multivariate, idle_s=idle_s)
    scored = op.stateful_batch("entities", keyed, logic)
    # list[Decision]: an entity's anomalies chain by entity, not beside a series shard's
    return op.map("unkey_entities", scored, _chained_entities)


def _chained_entities(keyed: tuple[str, Batch]) -> Batch:
    key, batch = keyed
    if batch:
        chain = f"entities/{stable_id('entity', key)}"  # the entity's labels stay out of it
        for item in batch:
            item.chain = chain
    return batch


def _derived_series(events: Stream[Batch], config: AlertflowConfig) -> Stream[Batch]:
    default = config.correlation.default_domain
    by_service = partial(service_key, default_cluster=default)
    keyed = op.flat_map_batch("by_service", events, partial(keyed_batch, key=by_service))
    # (cluster/service, list[SpanEvent | LogEvent | EdgeCall]): an edge call under its caller
    windows = op.stateful_batch("windows", keyed, partial(ServiceWindowLogic, config=config))
    closed = op.key_rm("unkey_windows", windows)  # list[MetricSample], one per service
    # One list per batch: a service's few samples spread over shards were items of 1-2 samples.
    return op.flat_map_batch("window_lists", closed, joined)  # list[MetricSample]


def _edge_calls(spans: Stream[Batch], config: AlertflowConfig) -> Stream[Batch]:
    by_trace = partial(trace_shard, shards=config.derived.join_shards)
    keyed = op.flat_map_batch("by_trace", spans, partial(keyed_batch, key=by_trace))
    # (trace shard, list[SpanEvent])
    calls = op.stateful_batch("edge_join", keyed, partial(EdgeJoinLogic, config=config))
    return op.key_rm("unkey_edges", calls)  # list[EdgeCall]


def _log_patterns(logs: Stream[Batch], config: AlertflowConfig) -> Stream[Batch]:
    default = config.correlation.default_domain
    by_service = partial(service_key, default_cluster=default)
    keyed = op.flat_map_batch("logs_by_service", logs, partial(keyed_batch, key=by_service))
    # (cluster/service, list[LogEvent])
    bursts = op.stateful_batch("log_patterns", keyed, partial(LogPatternLogic, config=config))
    return op.key_rm("unkey_log_bursts", bursts)  # list[LogSignal] | list[MetricSample]


def _correlation(events: Stream[Batch], config: AlertflowConfig) -> Stream[Batch]:
    by_domain = partial(domain_of, config=config.correlation)
    keyed = op.flat_map_batch("by_domain", events, partial(keyed_batch, key=by_domain))
    # (domain, list[AlertEvent | SpanEvent | AnomalySignal | ...])
    traces = bool(config.inputs.get("traces"))
    recovery = config.runtime.recovery_dir is not None
    logic = partial(
        IncidentLogic,
        config=config.correlation,
        traces=traces,
        recovery=recovery,
        recommendations=config.prediction.recommendations,
        now=step_clock(config),
    )
    grouped = op.stateful_batch("group", keyed, logic)
    return op.key_rm("unkey_incidents", grouped)  # list[Decision]


def _estate_digest(incidents: Stream[Batch], config: AlertflowConfig) -> Stream[Batch]:
    parts = op.flat_map("digests_apart", incidents, apart)  # list[Decision], digests alone
    split = op.branch("digest_or_not", parts, digests_only)
    keyed = op.key_on("one_estate", split.trues, lambda _: "noise")  # ("noise", list[Decision])
    logic = partial(EstateDigestLogic, config=config.correlation)
    folded = op.key_rm("unkey_estate", op.stateful_batch("estate_digest", keyed, logic))
    return op.merge("with_estate_digest", split.falses, folded)  # list[Decision]


def _feedback(incidents: Stream[Batch], verdicts: Stream[Batch],
              config: AlertflowConfig) -> Stream[Batch]:
    # Imported here: its forest (river, then scipy) cost ~1 s of CPU at every start-up,
    # a fifth of a 200k-sample metrics run's profile, for flows without a feedback input.
    from alertflow.dataflows.feedback_step import FeedbackLogic

    both = op.merge("verdicts_and_incidents", incidents, verdicts)  # list[Decision|FeedbackEvent]
    keyed = op.key_on("one_book", both, lambda _: "verdicts")  # ("verdicts", list[...])
    judged = op.stateful_batch("feedback", keyed, partial(FeedbackLogic, config=config.feedback))
    return op.key_rm("unkey_feedback", judged)  # list[Decision], held pages explained


def _emit(decisions: Stream[Batch], config: AlertflowConfig) -> None:
    sink = build_sink(config)
    if isinstance(sink, JsonlDirSink):
        if config.runtime.recovery_dir is None and not config.runtime.process_id:
            # Process 0 clears before the cluster starts; the others wait for it to connect.
            sink.clear()
        by_stream = op.flat_map("by_stream", decisions, _keyed_by_stream)  # (stream, Decision)
        op.output("out", by_stream, sink)
    else:
        op.output("out", decisions, sink)  # list[Decision], produced one message each


def _keyed_by_stream(decisions: Batch) -> list[tuple[str, Decision]]:
    return [(d.stream, d) for d in decisions]
