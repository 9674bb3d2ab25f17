"""Bytewax ``StatefulBatchLogic`` shells around the engine-agnostic operators.

Each shell only translates between Bytewax's calls (batch, timer, end of
input, snapshot) and the operator's methods; the operator holds the state.
"""

import copy
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from alertflow.dataflows import shutdown
from alertflow.dataflows.idle import IdleTimer, earliest
from alertflow.dataflows.job_metrics import LIVE_STATE
from alertflow.dataflows.uris import files_only
from alertflow.operators.anomaly.cold_start import ColdStartSettings
from alertflow.operators.anomaly.factory import detector_factory
from alertflow.operators.correlation.correlator import CorrelationEvent, DomainCorrelator
from alertflow.operators.correlation.incidents import IncidentSettings
from alertflow.operators.correlation.rank_levels import LEVEL_BUCKET_S, LevelSignal
from alertflow.operators.correlation.topology import read_static_topology
from alertflow.operators.decisions import Decision
from alertflow.operators.entity_scoring import EntityAnomalies
from alertflow.operators.intake import dead_letter, parse_ref
from alertflow.operators.log_patterns import LogPatterns, LogPatternSettings, LogSignal
from alertflow.operators.prediction.breach import PredictionSignal, ShardPredictor
from alertflow.operators.prediction.recommendations import Catalogue
from alertflow.operators.red_metrics import ServiceEvent, ServiceWindows, cluster_of
from alertflow.operators.redaction import Redactor
from alertflow.operators.restorable import resumed, upgrade, upgrade_each
from alertflow.operators.scoring import LateSample, ScoringSettings, SeriesScorer, ShardScorer
from alertflow.operators.span_faults import SpanFaultSettings
from alertflow.operators.trace_edges import EdgeCall, EdgeJoin
from alertflow.schemas.config import AlertflowConfig, CorrelationConfig, MultivariateConfig
from alertflow.schemas.config_prediction import RecommendationRule
from alertflow.schemas.jsoncodec import dumps
from alertflow.schemas.records import LogEvent, MetricSample, SpanEvent
from bytewax.operators import StatefulBatchLogic

_S = TypeVar("_S")


def _bundle(items: list) -> list[list]:
    # Downstream steps take one list per call: the engine's per-item cost is paid once.
    return [items] if items else []


def keyed_lists(batch: list[_S], key: Callable[[_S], str]) -> list[tuple[str, list[_S]]]:
    """A batch's items as one list per key, each in arrival order, keys in first-seen order.

    With several processes the engine pickles and routes what a keyed step gets one
    item at a time: a list per key and batch crosses once instead (the logics below
    flatten them with ``_flat``), and in one process the engine handles fewer items.

    >>> keyed_lists(["ab", "c", "ad"], key=lambda s: s[0])
    [('a', ['ab', 'ad']), ('c', ['c'])]
    """
    return keyed_batch([batch], key)


def keyed_batch(lists: list[list[_S]], key: Callable[[_S], str]) -> list[tuple[str, list[_S]]]:
    """:func:`keyed_lists` over all the lists the engine hands a step at once, joined in order.

    Upstream steps emit small lists (a poll's spans, one service's closed windows,
    one shard's anomalies): keyed one list at a time, each gave its own item per key,
    and each item crossed to the key's process and was a call of the keyed step alone.
    A keyed step gets a key's values of one batch in one call either way, in order.

    >>> keyed_batch([["ab", "c"], ["ad"]], key=lambda s: s[0])
    [('a', ['ab', 'ad']), ('c', ['c'])]
    """
    groups: dict[str, list[_S]] = {}
    for items in lists:
        for item in items:
            k = key(item)
            group = groups.get(k)
            if group is None:
                group = groups[k] = []
            group.append(item)
    return list(groups.items())


def joined(lists: list[list[_S]]) -> list[list[_S]]:
    """The lists the engine hands a step at once as one list (none when all are empty).

    >>> joined([[1, 2], [], [3]]), joined([[]])
    ([[1, 2, 3]], [])
    """
    items = _flat(lists)
    return [items] if items else []


def _flat(lists: list[list[_S]]) -> list[_S]:
    # A keyed step's values are the lists ``keyed_batch`` made, in arrival order: one list here.
    return lists[0] if len(lists) == 1 else [item for part in lists for item in part]


def _snapshot(state: _S, recovery: bool) -> _S:
    """A deep copy of ``state`` for the recovery store; without one, the state itself.

    Bytewax asks for snapshots at every epoch with or without recovery, and drops
    them unread without it (``tests/test_recovery.py``); a deep copy of a busy
    correlation domain every epoch was a twentieth of ``alertflow run``'s time.
    """
    return copy.deepcopy(state) if recovery else state


def _frozen() -> int:
    return 0


def step_clock(config: AlertflowConfig) -> Callable[[], int]:
    """The wall time that event-time steps see: real, or frozen when every input is a file.

    Watermarks also advance with wall time so that windows and incidents close when a
    live stream goes quiet. A replay of files runs as fast as the machine allows, so
    there that term only measured how busy the machine was: whether a quiet service's
    window closed before its next line arrived (and the anomalies and incidents built
    on it) changed from run to run. Frozen, a replay closes by event time and at the
    end of its input only, and the same files give the same outputs.
    """
    return _frozen if files_only(config.inputs) else time.time_ns


def _wall_datetime(wall_ns: int) -> datetime:
    return datetime.fromtimestamp(wall_ns / 1e9, tz=UTC)


def late_to_dead_letter(late: LateSample, redactor: Redactor) -> Decision:
    """Late samples are rejected input: they go to the dead-letter output."""
    sample = late.sample
    raw = dumps({"series": late.key, "ts_ns": sample.ts_ns, "value": sample.value})
    topic, partition, offset = parse_ref(sample.ref)
    return dead_letter("metrics", topic, partition, offset, raw, late.reason, redactor)


class ShardScoringLogic(StatefulBatchLogic[list, list[Decision], ShardScorer]):
    """The scorers of one shard of series; idle series are swept out periodically."""

    def __init__(self, scorer: ShardScorer | None, config: AlertflowConfig) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.scorer = resumed_scorer(scorer, config)
        self.redactor = Redactor(config.redaction)  # series labels can hold personal data
        self.recovery = config.runtime.recovery_dir is not None
        self.sweep_every = timedelta(seconds=min(config.scoring.series_idle_s / 4, 600))
        self.next_sweep = datetime.now(tz=UTC) + self.sweep_every

    def on_batch(self, values: list[list]) -> tuple[list[list[Decision]], bool]:
        """Score the shard's micro-batches in arrival order.

        Emits one list of decisions, then one of closed level buckets (for correlation only).
        """
        wall_ns = time.time_ns()
        out: list[Decision] = []
        levels: list[LevelSignal] = []
        for items in values:
            # ``scores`` records come as a ScoreBlock: rows through redaction and the sink.
            for item in self.scorer.process(items, wall_ns, blocks=True):
                if isinstance(item, LevelSignal):
                    levels.append(item)
                    continue
                if isinstance(item, LateSample):
                    item = late_to_dead_letter(item, self.redactor)
                out.append(item)
        return _bundle(out) + _bundle(levels), False

    def notify_at(self) -> datetime:
        """The next sweep for idle series."""
        return self.next_sweep

    def on_notify(self) -> tuple[list[list[Decision]], bool]:
        """Forget idle series; drop the shard's state entirely once it is empty."""
        self.scorer.evict_idle(time.time_ns())
        self.next_sweep = datetime.now(tz=UTC) + self.sweep_every
        return [], not self.scorer.scorers

    def snapshot(self) -> ShardScorer:
        """A deep copy for the recovery store (see ``_snapshot``)."""
        return _snapshot(self.scorer, self.recovery)


class ShardPredictionLogic(StatefulBatchLogic[list, list, ShardPredictor]):
    """The breach predictors of one shard; emits a list of predictions and one of signals."""

    def __init__(self, predictor: ShardPredictor | None, config: AlertflowConfig) -> None:
        idle_ns = int(config.scoring.series_idle_s * 1e9)
        self.predictor = resumed(predictor, ShardPredictor(config.prediction, idle_ns))
        self.recovery = config.runtime.recovery_dir is not None
        self.sweep_every = timedelta(seconds=min(config.scoring.series_idle_s / 4, 600))
        self.next_sweep = datetime.now(tz=UTC) + self.sweep_every

    def on_batch(self, values: list[list]) -> tuple[list[list], bool]:
        """Forecast the shard's micro-batches in arrival order."""
        wall_ns = time.time_ns()
        decisions: list[Decision] = []
        signals: list[PredictionSignal] = []
        for items in values:
            for item in self.predictor.process(items, wall_ns):
                (signals if isinstance(item, PredictionSignal) else decisions).append(item)
        return _bundle(decisions) + _bundle(signals), False

    def notify_at(self) -> datetime:
        """The next sweep for idle series."""
        return self.next_sweep

    def on_notify(self) -> tuple[list[list], bool]:
        """Forget idle series; drop the shard's state once it is empty."""
        self.predictor.evict_idle(time.time_ns())
        self.next_sweep = datetime.now(tz=UTC) + self.sweep_every
        return [], not self.predictor.predictors

    def snapshot(self) -> ShardPredictor:
        """A deep copy for the recovery store (see ``_snapshot``)."""
        return _snapshot(self.predictor, self.recovery)


def resumed_scorer(scorer: ShardScorer | None, config: AlertflowConfig) -> ShardScorer:
    """A shard's scorer, restored ones upgraded down to each series' scorer."""
    scorer = resumed(scorer, make_shard_scorer(config))
    series = scorer.scorers.values()
    upgrade_each(series, lambda s: SeriesScorer(s.key, scorer.settings, scorer.make_detector))
    for one in series:  # thresholds and emit_scores of today's configuration
        one.settings = scorer.settings
    return scorer


def make_shard_scorer(config: AlertflowConfig) -> ShardScorer:
    """A shard's scorer with the configured detector and thresholds."""
    scoring = config.scoring
    settings = ScoringSettings(
        threshold=scoring.threshold,
        critical_threshold=scoring.critical_threshold,
        lateness_s=scoring.lateness_s,
        emit_scores=scoring.emit_scores,
        track_shift=scoring.track_shift,
        level_bucket_s=LEVEL_BUCKET_S if scoring.levels else 0.0,
        cold_start=ColdStartSettings(**scoring.cold_start.model_dump()),
    )
    idle_ns = int(scoring.series_idle_s * 1e9)
    return ShardScorer(settings, detector_factory(scoring.detector), idle_ns)


class IncidentLogic(StatefulBatchLogic[CorrelationEvent, list[Decision], DomainCorrelator]):
    """One correlation domain's :class:`DomainCorrelator`, with a timer for event-time closes."""

    def __init__(
        self,
        state: DomainCorrelator | None,
        config: CorrelationConfig,
        traces: bool = False,
        recovery: bool = True,
        recommendations: list[RecommendationRule] | None = None,
        now: Callable[[], int] = time.time_ns,
    ) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.config = config
        self.recommendations = recommendations or []
        self.traces = traces
        self.recovery = recovery
        self.now = now  # frozen in a replay of files (see ``step_clock``)
        self.correlator = state and upgrade(state, self._correlator(state.grouper.domain))

    def _correlator(self, domain: str) -> DomainCorrelator:
        config = self.config
        static = read_static_topology(config.topology_file) if config.topology_file else None
        return DomainCorrelator(
            domain,
            replace(settings(config), catalogue=Catalogue.load(self.recommendations)),
            trace_wait_s=config.trace_wait_s if self.traces else None,
            static_edges=static,
            span_faults=(
                SpanFaultSettings(wait_s=config.span_fault_wait_s)
                if config.span_faults and self.traces
                else None
            ),
        )

    def on_batch(self, values: list[list[CorrelationEvent]]) -> tuple[list[list[Decision]], bool]:
        """Learn the call graph from spans; hold alerts and anomalies for event-time order."""
        values = _flat(values)
        if self.correlator is None:
            self.correlator = self._correlator(domain_of(values[0], self.config))
        return _bundle(self.correlator.on_events(values, self.now())), False

    def notify_at(self) -> datetime | None:
        """The next wall time at which a held event is due or an incident may close."""
        if self.correlator is None or self.now is _frozen:
            return None  # a replay closes by event time and at its end only
        due = self.correlator.next_wall()
        return None if due is None else _wall_datetime(due)

    def on_notify(self) -> tuple[list[list[Decision]], bool]:
        """Release what waited long enough; close what the watermark allows."""
        assert self.correlator is not None
        return _bundle(self.correlator.on_tick(self.now())), False

    def on_eof(self) -> tuple[list[list[Decision]], bool]:
        """Bounded input ended: apply every held event, flush every incident that can close.

        A stop request also ends the inputs, but a stopped live job has not seen
        the end of its data, so nothing is closed early then.
        """
        if self.correlator is None or shutdown.REQUESTED.is_set():
            return [], False
        return _bundle(self.correlator.finish(self.now())), False

    def snapshot(self) -> DomainCorrelator:
        """A deep copy for the recovery store (see ``_snapshot``)."""
        return _snapshot(self.correlator, self.recovery)


def domain_of(event: CorrelationEvent, config: CorrelationConfig) -> str:
    """The correlation domain of an alert or anomaly (by label), a span or log burst (resource)."""
    if isinstance(event, SpanEvent):
        return cluster_of(event, config.default_domain)
    if isinstance(event, LogSignal):
        return event.cluster
    return event.labels.get(config.domain_label) or config.default_domain


def settings(config: CorrelationConfig) -> IncidentSettings:
    """The grouper's settings from the config section."""
    return IncidentSettings(
        session_gap_s=config.session_gap_s,
        quiet_period_s=config.quiet_period_s,
        stale_after_s=config.stale_after_s,
        lateness_s=config.lateness_s,
        max_hops=config.max_hops,
        effect_hops=config.effect_hops,
        cause_lag_s=config.cause_lag_s,
        topology_ttl_s=config.topology_ttl_s,
        notify_after_s=config.notify_after_s,
        anomaly_hold_s=config.anomaly_hold_s,
        anomaly_incidents=config.anomaly_incidents,
        flap_window_s=config.flap_window_s,
        flap_hold_max_s=config.flap_hold_max_s,
        join_labels=tuple(config.join_labels),
        similar_window_s=config.similar_window_s,
        similarity=config.similarity,
        learned_inhibition=config.learned_inhibition,
        inhibition_window_s=config.inhibition_window_s,
        helper_alerts=tuple(config.helper_alerts),
        merge=config.merge,
        merge_distinct_causes=config.merge_distinct_causes,
        merge_window_s=config.merge_window_s,
        split=config.split,
        sign_tolerance_s=config.sign_tolerance_s,
        wave_s=config.wave_s,
        level_split=config.level_split,
        level_split_z=config.level_split_z,
        level_split_lag_s=config.level_split_lag_s,
        level_split_refires=config.level_split_refires,
        level_split_callers=config.level_split_callers,
        max_members=config.max_members,
        noise_digest=config.noise_digest,
        record_after_s=config.record_after_s,
        noise_window_s=config.noise_window_s,
        noise_interval_s=config.noise_interval_s,
        corroborate_hops=config.corroborate_hops,
        corroborate_before_s=config.corroborate_before_s,
        corroborate_after_s=config.corroborate_after_s,
        corroborate_min_count=config.corroborate_min_count,
        lone_max_episodes=config.lone_max_episodes,
        lone_flap_wait_s=config.lone_flap_wait_s,
        lone_critical_streak=config.lone_critical_streak,
        one_off_alerts=config.one_off_alerts,
        coalesce_updates=config.coalesce_updates,
        join_interval_s=config.join_interval_s,
    )


class ServiceWindowLogic(StatefulBatchLogic[ServiceEvent, list[MetricSample], ServiceWindows]):
    """One service's span, edge and log windows, closed by event time or idle wall time.

    A service silent for ``governance.idle.service_s`` is flushed and forgotten.
    """

    def __init__(self, windows: ServiceWindows | None, config: AlertflowConfig) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.config = config
        self.recovery = config.runtime.recovery_dir is not None
        self.idle = IdleTimer(config.governance.idle.service_s)
        self.now = step_clock(config)
        self.windows = windows and upgrade(windows, self._windows(windows.service, windows.cluster))

    def _windows(self, service: str, cluster: str) -> ServiceWindows:
        derived = self.config.derived
        return ServiceWindows(
            service, cluster, derived.window_s, derived.lateness_s, derived.max_edges
        )

    def on_batch(self, values: list[list[ServiceEvent]]) -> tuple[list[list[MetricSample]], bool]:
        """Fold the service's events in."""
        values = _flat(values)
        if self.windows is None:
            first = values[0]
            cluster = cluster_of(first, self.config.correlation.default_domain)
            self.windows = self._windows(first.service, cluster)
        self.idle.touch()
        return _bundle(self.windows.add(values, self.now())), False

    def notify_at(self) -> datetime | None:
        """When the oldest open window closes on idle, or the service is forgotten."""
        replay = self.now is _frozen  # closes by event time and at the end only
        wall_ns = self.windows.next_close_wall() if self.windows and not replay else None
        return earliest(None if wall_ns is None else _wall_datetime(wall_ns), self.idle.due())

    def on_notify(self) -> tuple[list[list[MetricSample]], bool]:
        """Close what idle time has passed; a service gone quiet is flushed and dropped."""
        if self.windows is None or self.idle.expired():
            return self.on_eof()[0], True
        return _bundle(self.windows.on_tick(self.now())), False

    def on_eof(self) -> tuple[list[list[MetricSample]], bool]:
        """Bounded input ended: emit every open window (not on a stop request)."""
        if self.windows is None or shutdown.REQUESTED.is_set():
            return [], False
        return _bundle(self.windows.flush()), False

    def snapshot(self) -> ServiceWindows:
        """A deep copy for the recovery store (see ``_snapshot``)."""
        return _snapshot(self.windows, self.recovery)


class EdgeJoinLogic(StatefulBatchLogic[SpanEvent, list[EdgeCall], EdgeJoin]):
    """One shard of traces: client spans paired with the server spans they caused."""

    def __init__(self, join: EdgeJoin | None, config: AlertflowConfig) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.join = resumed(join, EdgeJoin(config.derived.max_pending_spans))
        self.recovery = config.runtime.recovery_dir is not None

    def on_batch(self, values: list[list[SpanEvent]]) -> tuple[list[list[EdgeCall]], bool]:
        """Pair what can be paired; the rest waits (bounded)."""
        return _bundle(self.join.add(_flat(values))), False

    def snapshot(self) -> EdgeJoin:
        """A deep copy for the recovery store (see ``_snapshot``)."""
        return _snapshot(self.join, self.recovery)


class LogPatternLogic(
    StatefulBatchLogic[LogEvent, list[LogSignal] | list[MetricSample], LogPatterns]
):
    """One service's log templates: bursts (evidence) and per-template series, as two lists.

    A service silent for ``governance.idle.service_s`` is flushed and forgotten.
    """

    def __init__(self, patterns: LogPatterns | None, config: AlertflowConfig) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.config = config
        self.recovery = config.runtime.recovery_dir is not None
        self.idle = IdleTimer(config.governance.idle.service_s)
        self.patterns = patterns and upgrade(
            patterns, self._patterns(patterns.cluster, patterns.service)
        )

    def _patterns(self, cluster: str, service: str) -> LogPatterns:
        found = self.config.log_patterns.model_dump(exclude={"enabled"})
        return LogPatterns(cluster, service, LogPatternSettings(**found))

    def on_batch(
        self, values: list[list[LogEvent]]
    ) -> tuple[list[list[LogSignal] | list[MetricSample]], bool]:
        """Mine the service's lines in arrival order."""
        values = _flat(values)
        if self.patterns is None:
            first = values[0]
            cluster = cluster_of(first, self.config.correlation.default_domain)
            self.patterns = self._patterns(cluster, first.service)
        self.idle.touch()
        signals = self.patterns.on_logs(values, time.time_ns())
        return _bundle(signals) + _bundle(self.patterns.take_series()), False

    def notify_at(self) -> datetime:
        """When the service is forgotten if no line comes."""
        return self.idle.due()

    def on_notify(self) -> tuple[list[list[LogSignal] | list[MetricSample]], bool]:
        """The service went quiet: its last counts, then its state goes."""
        return (self.on_eof()[0], True) if self.idle.expired() else ([], False)

    def on_eof(self) -> tuple[list[list[LogSignal] | list[MetricSample]], bool]:
        """Bounded input ended: the bursts' last counts (not on a stop request)."""
        if self.patterns is None or shutdown.REQUESTED.is_set():
            return [], False
        signals = self.patterns.flush(time.time_ns())
        return _bundle(signals) + _bundle(self.patterns.take_series()), False

    def snapshot(self) -> LogPatterns:
        """A deep copy for the recovery store (see ``_snapshot``)."""
        return _snapshot(self.patterns, self.recovery)


class EntityLogic(StatefulBatchLogic[tuple, list[Decision], EntityAnomalies]):
    """One entity's multivariate scorer; an entity silent for ``idle_s`` is flushed and dropped."""

    def __init__(
        self, state: EntityAnomalies | None, config: MultivariateConfig, idle_s: float = 6 * 3600.0
    ) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.config = config
        self.idle = IdleTimer(idle_s)
        self.state = state and upgrade(state, self._entity(state.entity))

    def _entity(self, entity: str) -> EntityAnomalies:
        config = self.config
        return EntityAnomalies(
            entity, config.threshold, config.window_s, config.lateness_s, config.max_metrics
        )

    def on_batch(self, values: list[tuple[str, list]]) -> tuple[list[list[Decision]], bool]:
        """Add the entity's samples; emit anomalies of the windows they close."""
        if self.state is None:
            self.state = self._entity(values[0][0])
        self.idle.touch()
        out: list[Decision] = []
        for _, samples in values:
            out.extend(self.state.add(samples))
        return _bundle(out), False

    def notify_at(self) -> datetime:
        """When the entity is forgotten if no sample comes."""
        return self.idle.due()

    def on_notify(self) -> tuple[list[list[Decision]], bool]:
        """The entity went quiet: its open windows are judged, then its state goes."""
        return (self.on_eof()[0], True) if self.idle.expired() else ([], False)

    def on_eof(self) -> tuple[list[list[Decision]], bool]:
        """Bounded input ended: judge the open windows (not on a stop request)."""
        if self.state is None or shutdown.REQUESTED.is_set():
            return [], False
        return _bundle(self.state.flush()), False

    def snapshot(self) -> EntityAnomalies:
        """A deep copy, as Bytewax requires."""
        return copy.deepcopy(self.state)
