"""The job's settings: one frozen model, loaded from YAML or TOML, overridden by flags."""

import difflib
import logging
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from alertflow.schemas.alert_rules import AlertRuleError, thresholds_from_rules
from alertflow.schemas.config_analytics import AnalyticsConfig
from alertflow.schemas.config_feedback import FeedbackConfig
from alertflow.schemas.config_notify import NotifyConfig
from alertflow.schemas.config_prediction import PredictionConfig, Threshold
from alertflow.schemas.errors import AlertflowError
from alertflow.schemas.governance import GovernanceConfig, resolve_secret
from alertflow.schemas.kafka_security import KafkaSecurity
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

_log = logging.getLogger("alertflow.config")

INPUT_STREAMS = ("metrics", "alerts", "logs", "traces", "feedback")
OUTPUT_STREAMS = ("anomalies", "scores", "incidents", "notifications", "predictions", "dlq")


class ConfigError(AlertflowError):
    """The configuration file or flags are invalid."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaClient(_Settings):
    """librdkafka settings passed through unchanged (TLS, SASL, ...).

    Put credentials under ``secrets`` so they never appear in logs or reprs, as
    ``env:NAME`` or ``file:PATH`` references (``governance.resolve_secret``).
    """

    config: dict[str, str | int | float | bool] = Field(default_factory=dict)
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    security: KafkaSecurity = KafkaSecurity()
    fetch_wait_max_ms: int = Field(
        10, ge=0, description="Short waits keep latency low; librdkafka's 500 ms adds ~150 ms."
    )
    batch_size: int = Field(1000, ge=1, description="Messages consumed per poll.")
    gather_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="A poll short of batch_size waits up to this long for more messages. At a "
        "low rate the engine's per-poll and per-shard costs are otherwise paid for a few "
        "samples each (2 processes at 20,000/s: polls of ~50 cost ~1.6x the CPU per sample "
        "of polls of ~100); the wait counts in in-job latency, and the engine wakes late for it: "
        "at 5 ms, 1 process at 20,000/s used ~15% less CPU but in-job p50 rose 5 -> 17 ms "
        "and p99 past 25 ms. Off (0) by default; for CPU-bound low-rate jobs.",
    )
    stop_at_end: bool = Field(
        False, description="Stop when every input partition is read to its end (replays, tests)."
    )
    series_partitioned: bool = Field(
        False,
        description="The producers send every metric series to one partition (keyed by "
        "series: prometheus-kafka-adapter's KAFKA_PARTITION_LABELS, the Collector's "
        "partition_metrics_by_resource_attributes). Each partition's series are then scored "
        "by the worker that reads the partition, so with several processes their samples "
        "are not pickled from one to another. A series that arrives on two partitions is "
        "then scored as two series: leave off unless the producers key by series. Turning "
        "it on or off starts the series' detectors afresh on resume, and their anomalies' "
        "audit chains (one per partition and shard while on).",
    )
    delivery_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Output the brokers have not acknowledged this long stops the job with an "
        "error and a non-zero exit. The batch is not counted as written: a restart with the "
        "same --recovery-dir sends it again. A broker restart shorter than this goes unnoticed.",
    )
    metadata_timeout_s: float = Field(
        10.0,
        gt=0,
        description="At start, an input topic's brokers that do not answer this long stop the "
        "job with an error and a non-zero exit.",
    )
    stop_grace_s: float = Field(
        5.0,
        ge=0,
        description="After SIGTERM/SIGINT, output still waiting for the brokers gets this long; "
        "then the job stops anyway, non-zero, with that batch not counted as written.",
    )
    log_interval_s: float = Field(
        30.0,
        ge=0,
        description="librdkafka's log lines and client errors of one kind are printed at most "
        "once per this interval (a broker that is down otherwise prints dozens a second).",
    )

    def client_config(self) -> dict[str, Any]:
        """What every librdkafka client gets, secrets revealed."""
        merged: dict[str, Any] = {**self.security.librdkafka(), **self.config}
        merged.update(self.security.secrets())
        merged.update({k: resolve_secret(v.get_secret_value()) for k, v in self.secrets.items()})
        return merged

    def consumer_config(self) -> dict[str, Any]:
        """Client settings plus the consumer-only ones."""
        return {"fetch.wait.max.ms": self.fetch_wait_max_ms, **self.client_config()}

    def producer_config(self) -> dict[str, Any]:
        """Client settings plus the producer's: idempotent, giving up with the job's bound.

        Idempotence (acks from all in-sync replicas, no duplicates or reordering from the
        producer's own retries) is on unless ``config`` turns it off.
        """
        return {
            "enable.idempotence": True,
            "message.timeout.ms": int(self.delivery_timeout_s * 1000),
            **self.client_config(),
        }


class DetectorSettings(_Settings):
    """The per-series streaming ensemble (``operators.anomaly.StreamingEnsemble``).

    Rates are per sample. Scales are robust (mean absolute deviations); evidence is in
    log10 units (4 ≈ a 1-in-10,000 surprise). The defaults are the ones tuned once for all
    of NAB's development subset; change them per deployment only with a benchmark.
    """

    a_loc: float = Field(0.02, gt=0, le=1, description="EWMA rate of the robust level.")
    a_sc: float = Field(0.02, gt=0, le=1, description="Rate of every model's short-term MAD.")
    a_lsc: float = Field(0.002, gt=0, le=1, description="Rate of the long-run MAD (the floor).")
    floor_frac: float = Field(
        0.2, ge=0, description="Scale floor as a fraction of the long-run MAD."
    )
    huber: float = Field(3.0, gt=0, description="Model updates are clipped at this many scales.")
    holt_a: float = Field(0.1, gt=0, le=1, description="Holt level smoothing.")
    holt_b: float = Field(0.01, gt=0, le=1, description="Holt trend smoothing.")
    nbins: int = Field(96, ge=1, le=1440, description="Daily profile bins (96: 15 minutes).")
    a_seas: float = Field(0.1, gt=0, le=1, description="Learning rate of a profile bin per visit.")
    a_off: float = Field(0.02, gt=0, le=1, description="Rate of the deseasonalised offset.")
    seas_strength: float = Field(
        0.5, le=1, description="Seasonal strength F needed to use the profile (prototype: seas_F)."
    )
    a_strength: float = Field(
        0.005, gt=0, le=1, description="Rate of the error averages behind F (prototype: a_F)."
    )
    cusum_k: float = Field(0.5, ge=0, description="CUSUM allowance, in scales.")
    cusum_h: float = Field(12.0, gt=0, description="CUSUM decision interval: re-learn the level.")
    range_tol: float = Field(
        0.05, gt=0, description="Range tolerance, a fraction of the range (prototype: spatial)."
    )
    range_evidence: float = Field(
        10.0, ge=0, description="Evidence of a value beyond the range (prototype: sp_E)."
    )
    lik_window: int = Field(
        10, ge=1, le=1000, description="Raw scores averaged by the likelihood (prototype: short)."
    )
    a_lik: float = Field(0.001, gt=0, le=1, description="Rate of the likelihood's statistics.")
    zcap: float = Field(5.0, gt=0, description="Cap of a sample's robust z before averaging.")
    warmup: int = Field(100, ge=1, description="First samples of a series score 0.")
    sup_tau: float = Field(175.0, gt=0, description="Suppression decay time constant (samples).")
    sup_margin: float = Field(
        1.0, ge=0, description="Evidence margin over the suppression level needed to pass."
    )
    sup_mult: float = Field(
        1.5, ge=0, description="Suppression level after a pass, times the evidence passed."
    )
    sup_damp: float = Field(0.1, ge=0, le=1, description="Multiplier of suppressed evidence.")
    sup_cross: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Fraction of a range detection's suppression level that "
        "also holds back the likelihood (1: one level for both channels).",
    )
    out_scale: float = Field(12.0, gt=0, description="Score = 1 - exp(-evidence / out_scale).")
    lik_span_s: float = Field(
        3000.0,
        ge=0,
        description="Time the likelihood averages over, in seconds of the series' sampling "
        "(at most lik_window samples, at least one); 0: always lik_window samples.",
    )
    rarity_period_s: float = Field(
        3600.0,
        ge=0,
        description="Evidence counts rarity per this period, not per sample: a series "
        "sampled every interval loses log10(period / interval) of it, so one threshold fits "
        "per-minute and hourly series (0: per sample).",
    )
    dist_weight: float = Field(
        0.0, ge=0, description="Weight of the long-run distribution's tail evidence."
    )
    sup_tau_s: float = Field(
        0.0,
        ge=0,
        description="Suppression decay time constant in seconds of the series' sampling "
        "(replaces sup_tau when set; 0: sup_tau samples).",
    )
    grain_frac: float = Field(
        1.0,
        ge=0,
        description="Every scale is at least this fraction of the series' resolution (the "
        "smallest step between its values: 1 for counts); 0: no such floor.",
    )
    range_mature: float = Field(
        1000.0,
        ge=0,
        description="Samples after which the range tolerance is range_tol; before, it is "
        "range_tol * sqrt(range_mature / n), since a young range is easily beaten (0: off).",
    )
    a_dist: float = Field(0.001, gt=0, le=1, description="Rate of the long-run distribution.")
    week_days: float = Field(
        0.0,
        ge=0,
        description="Day-of-week offsets remember about this many visits of each weekday and "
        "are taken off before forecasting once they help (weekends in traffic); 0: off.",
    )
    week_strength: float = Field(
        0.2, le=1, description="Error reduction the weekday offsets must show to be used."
    )
    vol_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the variance channel's evidence (spread changes at the same "
        "level: flapping starts or an oscillation stops); 0: off.",
    )
    vol_span_s: float = Field(
        21600.0, ge=0, description="Seconds the variance channel's recent spread covers."
    )
    sup_quiet_s: float = Field(
        0.0,
        ge=0,
        description="Once nothing is unusual (evidence < 1), suppression also fades with this "
        "time constant in seconds, so the next incident alarms; 0: off.",
    )
    seas_recall: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A value close to what this time of day usually is counts as usual even "
        "while the daily profile is too weak to forecast with, once its strength exceeds "
        "seas_strength * (1 - seas_recall); 0: off (chosen by cross-validation, bench/nab_cv.py).",
    )
    peak_recall: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Takes this fraction of the series' typical daily peak evidence (the "
        "geometric mean of past days' largest) off the likelihood's evidence, so a surprise "
        "some sample shows every day is not an incident; 0: off.",
    )
    lik_short_s: float = Field(
        3000.0,
        ge=0,
        description="The likelihood also judges the mean over this many seconds (one sample "
        "at least) against its own history, beside its window: a one-sample spike on an hourly "
        "series is not diluted by the window's mean; 0: off (on: it rescues a lik_span_s=0 "
        "choice on hourly data out-of-fold, bench/nab_cv.py).",
    )
    seas_shift_s: float = Field(
        0.0,
        ge=0,
        description="The daily profile also judges a value against the times this many "
        "seconds earlier and later, and the best fit counts: a daily peak that comes an hour "
        "early or late is no incident; 0: off.",
    )
    stuck_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the stuck-value channel's evidence: one value repeated for "
        "longer than the series' usual longest run (a dead exporter, a frozen gauge); 0: off.",
    )
    drift_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the drift channel's evidence: the last day's mean against the "
        "last week's, by the series' own spread of that difference (a disk filling, a leak); "
        "0: off.",
    )


class ColdStartConfig(_Settings):
    """Scoring of series still inside the detector's warm-up (``operators/anomaly/cold_start``).

    Such anomalies have ``info`` severity and ``detectors: ["cold_start"]``.
    """

    enabled: bool = True
    z_threshold: float = Field(3.0, gt=0, description="|x - mean| / scale that counts.")
    rel_floor: float = Field(
        0.25, ge=0, description="Scale floor as a fraction of the mean's magnitude."
    )
    abs_floor: float = Field(1e-3, gt=0, description="Scale floor in the series' own unit.")
    size: int = Field(16, ge=1, le=256, description="Recent normal values kept per series.")


class ScoringConfig(_Settings):
    """Per-series scoring and what becomes an anomaly."""

    threshold: float = Field(
        0.21,
        gt=0,
        le=1,
        description="Anomaly when the ensemble's score reaches this: evidence of about 2.9, "
        "a 1e-4 tail on a 5-minute series (rarity counts per hour), and NAB's best single "
        "threshold with these defaults (0.214; bench/nab_cv.py).",
    )
    critical_threshold: float = Field(
        0.56, gt=0, le=1, description="Critical from here: a value outside the learned range."
    )
    lateness_s: float = Field(300.0, ge=0)
    emit_scores: bool = False
    track_shift: bool = Field(
        False,
        description="Anomalies carry `shift` (spreads moved from the series' own last hour) and "
        "`onset`, and root-cause ranking weighs what moved at the incident's start. Opt-in: one "
        "more kernel call per sample, and bench/rank_cv.py finds no out-of-fold gain yet.",
    )
    levels: bool = Field(
        True,
        description="Each series' closed 5-minute buckets (count, sum, sum of squares) go to "
        "correlation, where root-cause ranking compares what changed at an incident's start "
        "with each series' own hour before (bench/rank_cv.py). Internal: never output.",
    )
    series_idle_s: float = Field(
        6 * 3600.0, gt=0, description="Series silent this long (wall time) are forgotten."
    )
    shards: int = Field(
        64,
        ge=1,
        description="Series are spread over this many keyed shards (fixed per deployment).",
    )
    detector: DetectorSettings = DetectorSettings()
    cold_start: ColdStartConfig = ColdStartConfig()


class MultivariateConfig(_Settings):
    """Per-entity scoring of metric combinations; opt-in (~14 us/sample, ~170 KiB/entity)."""

    enabled: bool = False
    by: list[str] = Field(
        default_factory=lambda: ["service", "instance"],
        description="Labels naming the entity, first present wins.",
    )
    window_s: float = Field(60.0, gt=0)
    lateness_s: float = Field(60.0, ge=0)
    threshold: float = Field(0.65, gt=0, le=1)
    max_metrics: int = Field(8, ge=2)


class CorrelationConfig(_Settings):
    """Alert grouping into incidents."""

    domain_label: str = "cluster"
    default_domain: str = "default"
    session_gap_s: float = Field(600.0, gt=0)
    quiet_period_s: float = Field(300.0, ge=0)
    stale_after_s: float = Field(4 * 3600.0, gt=0)
    lateness_s: float = Field(
        60.0,
        ge=0,
        description="Alerts and anomalies wait until the domain's event time is this far past "
        "them, then are grouped in event-time order: any interleaving within the bound gives "
        "the same incidents. Incident decisions wait this long (event time, or wall time "
        "when the domain is idle).",
    )
    max_hops: int = Field(
        2,
        ge=0,
        description="An alert on a dependency of an incident's likely cause joins it within "
        "this many call-graph hops (and only if it started no later than cause_lag_s after it).",
    )
    effect_hops: int = Field(
        4,
        ge=0,
        description="An alert on a service that calls an incident's likely cause (a symptom: "
        "faults climb towards callers) joins it within this many hops.",
    )
    cause_lag_s: float = Field(
        600.0,
        ge=0,
        description="A dependency whose alert starts up to this long after a likely cause's "
        "may be the real cause (a longer `for:`); later than that it is a fault of its own.",
    )
    topology_file: Path | None = Field(
        None, description="Static call graph (adjacency-matrix or caller,callee CSV)."
    )
    topology_ttl_s: float = Field(
        24 * 3600.0, gt=0, description="Edges learned from traces age out after this."
    )
    notify_after_s: float | None = Field(
        None,
        ge=0,
        description="Announce a lone warning once it has fired this long; by default never: "
        "a lone warning is an incident record (a ticket), two alerts or a critical one page.",
    )
    trace_wait_s: float = Field(
        10.0,
        ge=0,
        description="With traces as an input, an alert waits at most this long (wall time) "
        "for the spans of its moment before it is grouped.",
    )
    span_faults: bool = Field(
        True,
        description="Each trace's deepest failing span (an error, or a latency outlier "
        "against its operation's p99) joins incidents as evidence about its service and "
        "points the root-cause ranking at it (operators.span_faults).",
    )
    span_fault_wait_s: float = Field(
        30.0,
        ge=0,
        description="A trace is judged once no span of it ended this long (event time) "
        "before the newest span.",
    )
    anomalies: bool = Field(
        True,
        description="Anomaly records join incidents as members, beside alerts, and feed the "
        "root-cause ranking: what names causes nobody alerts on (BENCHMARKS.md, PetShop).",
    )
    anomaly_hold_s: float = Field(
        600.0,
        gt=0,
        description="An anomalous series counts as recovered after this long without an anomaly.",
    )
    join_labels: list[str] = Field(
        default_factory=lambda: ["node"],
        description="Alerts that share a value of one of these labels are related even where "
        "the call graph says they are not (the same node, say).",
    )
    similar_window_s: float = Field(
        120.0,
        ge=0,
        description="Alerts of one kind (similar name and summary words) that start within "
        "this long of each other are related even where the call graph says they are not: an "
        "alert storm shares a cause the graph does not show. 0 turns this off.",
    )
    similarity: float = Field(
        0.6, gt=0, le=1, description="Word-set (Jaccard) similarity of alerts of one kind."
    )
    learned_inhibition: bool = Field(
        True,
        description="Learn inhibit rules from history: an alert kind (alertname@service) that "
        "has kept starting within inhibition_window_s after another (support 3, confidence "
        "0.6, lift 2) joins that one's incident as its symptom, graph or not.",
    )
    inhibition_window_s: float = Field(300.0, gt=0)
    flap_window_s: float = Field(
        3600.0,
        gt=0,
        description="An alert that starts a new episode within this long of an earlier one is "
        "flapping: its incident stays open through its next episodes (see flap_hold_max_s).",
    )
    flap_hold_max_s: float = Field(
        3600.0,
        ge=0,
        description="A flapping alert holds its incident open for 1.5x the longest gap between "
        "its episodes after it resolves, at least quiet_period_s and at most this long.",
    )
    anomaly_incidents: bool = Field(
        False,
        description="Anomalies related to no alert open incidents of their own (for estates "
        "without alerting); otherwise they wait, as evidence, for an alert to open one.",
    )
    helper_alerts: list[str] = Field(
        default_factory=lambda: ["Watchdog", "InfoInhibitor"],
        description="Alert names that are never incident members: Alertmanager's heartbeat "
        "and inhibition helper.",
    )
    merge: bool = Field(
        True,
        description="An alert that is a likely cause of two open incidents (a dependency of "
        "each one's likely causes, starting no later than cause_lag_s after them) merges them: "
        "the earliest opened survives; the others end with status merged and merged_into.",
    )
    merge_distinct_causes: bool = Field(
        True,
        description="With merge: incidents whose likely causes share a service are never "
        "merged (they were kept apart on purpose: two faults on one service).",
    )
    merge_window_s: float | None = Field(
        60.0,
        ge=0,
        description="With merge: only incidents whose likely causes began within this of the "
        "earliest one's merge (the pieces of one cascade start together; None: any).",
    )
    split: bool = Field(
        True,
        description="Keep a second fault apart: a new kind of alert whose service has a "
        "dependency that turned anomalous after the incident's causes (by more than "
        "sign_tolerance_s) and before it fired opens its own incident, and a dependency "
        "dated by its metrics is a cause only within sign_tolerance_s of the cause.",
    )
    sign_tolerance_s: float = Field(
        120.0,
        ge=0,
        description="How much later than a likely cause a dependency's metrics may turn "
        "anomalous and it still be that cause (metrics wait out no `for:`).",
    )
    wave_s: float | None = Field(
        None,
        ge=0,
        description="With split: an alert of a kind new to an incident, on a symptom of its "
        "fault, starting this long after the fault began is a second fault's (None: only "
        "metrics split).",
    )
    max_members: int = Field(
        500,
        ge=1,
        description="Members listed per incident: alerts first, then the strongest and "
        "earliest evidence; the rest are counted in members_omitted.",
    )
    noise_digest: bool = Field(
        True,
        description="A lone warning (one alert, not critical, in no incident with others) is "
        "not an incident record of its own: once alone record_after_s, or resolved sooner, it "
        "is listed in its domain's noise digest (an incidents record with kind noise, one per "
        "noise_window_s); an incident that takes it later is named on its line.",
    )
    record_after_s: float = Field(
        600.0,
        ge=0,
        description="How long a lone warning waits, unrecorded, for an incident to take it "
        "before it is listed in the noise digest.",
    )
    noise_window_s: float = Field(
        86_400.0, gt=0, description="One noise digest per domain and this much event time."
    )
    noise_interval_s: float = Field(
        900.0, gt=0, description="A noise digest gets at most one version per this long."
    )
    noise_digest_scope: Literal["domain", "estate"] = Field(
        "estate",
        description="estate: a step after correlation folds the domains' noise digests of a "
        "window into one record (domain '*') listing every domain's lines (each keeps its "
        "labels, so its cluster), so an estate of three clusters has one digest a day, not "
        "three; nothing is dropped. Chosen by leave-one-seed-out (bench/one_off_cv.py, 9 of 9 "
        "folds). domain: one noise digest per correlation domain (cluster) and window.",
    )
    corroborate_hops: int = Field(
        1,
        ge=0,
        description="Anomaly evidence corroborates a lone warning (making it an incident of "
        "its own, not a digest line) only on the alert's service or a service it depends on "
        "within this many hops (0: its own service only). 1 hop, 900 s, 300 s and 2 samples "
        "were chosen by leave-one-seed-out (bench/noise_cv.py).",
    )
    corroborate_before_s: float | None = Field(
        900.0,
        ge=0,
        description="...and only evidence that began at most this long before the alert "
        "started (its rule's `for:` delays the alert after its metrics turn; evidence older "
        "than that belongs to a concurrent problem). None: any time before.",
    )
    corroborate_after_s: float | None = Field(
        300.0,
        ge=0,
        description="...or at most this long after the alert started. None: any time after.",
    )
    corroborate_min_count: int = Field(
        2,
        ge=1,
        description="...and only evidence with at least this many anomalous samples (one "
        "sample is a blip).",
    )
    lone_max_episodes: int | None = Field(
        3,
        ge=2,
        description="A lone warning whose alert started this many episodes within "
        "flap_window_s is a digest line even when anomalies corroborate it (a rule flapping "
        "on its own); its record then waits lone_flap_wait_s after its start to see. 3 and "
        "1200 s were chosen by leave-one-seed-out (bench/noise_cv.py --flaps). None: off.",
    )
    lone_flap_wait_s: float = Field(
        1200.0,
        ge=0,
        description="How long a corroborated lone warning's record waits, unseen and unpaged, "
        "to see whether its alert flaps (with lone_max_episodes).",
    )
    lone_critical_streak: int | None = Field(
        1,
        ge=1,
        description="A lone critical alert (one alert, no incident took it) whose kind "
        "(alertname) had this many episodes in a row in its domain that fired and ended "
        "alone, unexplained by anomalies, is a noise digest line like a lone warning: it "
        "pages only when anomalies corroborate it or its episode is still firing "
        "record_after_s after it began. It is never dropped: the digest lists it. 1 was "
        "chosen by leave-one-seed-out (bench/critical_cv.py, 9 of 9 folds). None: every "
        "critical alert pages at once.",
    )
    one_off_alerts: str | None = Field(
        None,
        description="A regular expression (Python re, searched in the alertname) naming "
        "rules that report a one-off event already over (a container OOM-killed once, a pod "
        "restarted) rather than a failure going on. A lone critical alert of such a rule is "
        "held back from its first episode, before any history, as lone_critical_streak holds "
        "back a kind that kept ending alone: a noise digest line unless anomalies corroborate "
        "it or it is still firing record_after_s after it began. Never dropped: the digest "
        "lists it. None: off.",
    )
    coalesce_updates: bool = Field(
        True,
        description="Changes to a recorded incident that leave its status, severity, first "
        "root cause, number of alerts and announcement as they were fold into one version per "
        "300 s of event time (the last one always comes out: at the interval's end, "
        "resolution or flush).",
    )
    join_interval_s: float = Field(
        2.0,
        ge=0,
        description="With coalesce_updates: alerts joining a recorded incident within this "
        "long (event time) of its last version fold into one version at the end of it, so an "
        "alert storm gives a version every few seconds, not one per alert. Severity, first "
        "root cause and announcements still come out at once; 0 gives every join its version.",
    )
    level_split: bool = Field(
        True,
        description="Keep a second fault apart by its metrics' level (5-minute buckets against "
        "each series' hour before): an alert whose service, or a dependency of it not alerting "
        "in the incident, has series that all first moved over level_split_lag_s after the "
        "incident's fault began opens (or joins) its own incident.",
    )
    level_split_z: float = Field(
        5.0,
        gt=0,
        description="With level_split: a bucket's mean this many spreads of its hour before "
        "is a move.",
    )
    level_split_lag_s: float = Field(
        300.0,
        ge=0,
        description="With level_split: how much later than the fault began a move must start "
        "to be another fault's (more than symptoms take to follow their cause).",
    )
    level_split_callers: bool = Field(
        False,
        description="With level_split: a service that calls the incident's likely cause may be "
        "the second root when its move is that late (False: only services the cause cannot "
        "explain, neither calling it nor the newcomer's own when it does).",
    )
    level_split_refires: bool = Field(
        True,
        description="With level_split: a re-fired alert whose new episode such a move explains "
        "leaves its incident (a version without it is recorded) and is placed anew.",
    )

    @field_validator("one_off_alerts")
    @classmethod
    def _one_off_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"one_off_alerts: not a valid regex: {exc}") from None
        return value


class LogPatternsConfig(_Settings):
    """Log template bursts as incident evidence (``operators.log_patterns``)."""

    enabled: bool = Field(
        True,
        description="WARN-and-above log lines are mined into templates per service; a template "
        "bursting (or new) joins related incidents as one member, with its counts.",
    )
    bucket_s: float = Field(60.0, gt=0, description="Event-time bucket lines are counted in.")
    warmup_s: float = Field(
        900.0, ge=0, description="A service's first templates are learned, not judged, this long."
    )
    ratio: float = Field(3.0, gt=0, description="A burst: lines per bucket >= ratio * baseline ...")
    min_count: int = Field(5, ge=1, description="... plus this many.")
    new_min_count: int = Field(3, ge=1, description="The same for a template new after warm-up.")
    novelty: bool = Field(
        True,
        description="A template first seen after warm-up on an error-or-worse line is evidence "
        "at once (a burst of one), without waiting for new_min_count lines.",
    )
    max_templates: int = Field(1000, ge=1, description="Per service; least recently seen go.")
    follow_s: float = Field(
        3600.0,
        ge=0,
        description="After a burst, its template's lines count into the incident "
        "it is in (deduplicated by template) this long.",
    )
    max_series: int = Field(
        20,
        ge=0,
        description="Templates per service whose lines per bucket become a series for "
        "the detectors (alertflow_log_template_lines); bounds the series a template explosion "
        "can make.",
    )
    series_after: int = Field(3, ge=1, description="Lines before a template gets its series.")


class DerivedSeriesConfig(_Settings):
    """Series derived from traces (RED per service and per edge) and logs (lines per level)."""

    window_s: float = Field(60.0, gt=0)
    lateness_s: float = Field(60.0, ge=0)
    max_edges: int = Field(
        0,
        ge=0,
        description="Callees per service with edge series (4 each); calls to more are "
        "counted, not emitted, so the series count stays bounded. Off (0) by default: "
        "root-cause ranking does not read edges yet, and their anomalies cost top-1 "
        "0.905 -> 0.786 on bench/correlation.py seed 0; 32 is a sensible bound to try.",
    )
    join_shards: int = Field(
        8,
        ge=1,
        description="Keyed shards that pair client spans with their server spans "
        "(by trace id) into edge calls.",
    )
    max_pending_spans: int = Field(
        20_000, ge=1, description="Per shard and side, spans waiting for their partner."
    )


class IntakeConfig(_Settings):
    """Where messages enter."""

    max_message_bytes: int = Field(
        1 << 20,
        ge=1,
        description="Longer messages go to dlq undecoded (Kafka's own default cap is 1 MiB); "
        "one huge line of a file or a topic never holds the job's memory.",
    )


class LabelsConfig(_Settings):
    """Label hygiene."""

    drop: list[str] = Field(default_factory=list)
    max_value_len: int = Field(256, ge=1)


_SECRET_KEYS = (
    "password", "passwd", "pwd", "passphrase", "secret", "token", "api_key", "apikey",
    "access_key", "private_key", "auth", "authorization", "credential", "credentials",
    "cookie", "session", "session_id", "sessionid", "signature",
)  # fmt: skip
_USER_KEYS = (
    "user", "user_id", "userid", "username", "uid", "login", "email", "customer_id",
    "account_id", "owner",
)  # fmt: skip


class RedactionConfig(_Settings):
    """What is scrubbed from dead letters before they leave the flow (``operators.redaction``).

    Rules work on the raw bytes, so a message that is not UTF-8 is scrubbed too; a
    redacted span becomes ``[REDACTED:<kind>]``.
    """

    emails: bool = True
    ip_addresses: bool = Field(True, description="IPv4 and IPv6 addresses.")
    tokens: bool = Field(
        True,
        description="Bearer/Basic credentials and well-known key shapes: JWTs, AWS access key "
        "ids, GitHub, GitLab, Slack and Google API tokens, sk-... keys, PEM private keys.",
    )
    secret_keys: list[str] = Field(
        default_factory=lambda: list(_SECRET_KEYS),
        description="The value after a key ending in one of these (key=value, key: value, "
        '"key": "value"; any case, any prefix such as db_ or X-) is redacted.',
    )
    user_keys: list[str] = Field(
        default_factory=lambda: list(_USER_KEYS),
        description='The same for user identifiers (user_id=..., "login": ...).',
    )
    patterns: dict[str, str] = Field(
        default_factory=dict,
        description="More rules: kind -> regular expression; every match is redacted.",
    )
    ips_in_identifiers: bool = Field(
        True,
        description="Output records only: keep an IP address inside a value without "
        'whitespace (a label value such as instance="10.0.0.5:9100", a series key, a service '
        "name): it is how an operator finds the machine. IPs in text (log lines, summaries, "
        "annotations, evidence) are scrubbed all the same, and so is everything in dead letters.",
    )
    dlq_max_bytes: int = Field(
        4096,
        ge=0,
        description="A dead letter keeps at most this much of its message (after redaction); "
        "raw_size says how long the message was.",
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, pattern in value.items():
            try:
                re.compile(pattern.encode())
            except re.error as exc:
                raise ValueError(f"redaction pattern {kind!r}: not a valid regex: {exc}") from None
        return value


class TracingConfig(_Settings):
    """Where decision spans go."""

    exporter: Literal["none", "console", "otlp"] = "none"
    endpoint: str | None = None
    service_name: str = "alertflow"


class RuntimeConfig(_Settings):
    """How the Bytewax job runs."""

    workers_per_process: int = Field(1, ge=1)
    process_id: int | None = None
    addresses: list[str] = Field(default_factory=list)
    recovery_dir: Path | None = None
    snapshot_interval_s: float = Field(10.0, gt=0)
    stats_file: Path | None = None
    file_pace_s: float | None = Field(
        None,
        gt=0,
        description="File inputs: each poll spans about this much event time (from "
        "the file's first and last records), so the files of a replay advance together as live "
        "streams do; unset, a poll is 1,000 lines.",
    )


class AlertflowConfig(_Settings):
    """Everything ``alertflow run`` needs."""

    inputs: dict[str, list[str]] = Field(default_factory=dict)
    output: str | None = None
    topic_prefix: str = "alertflow."
    kafka: KafkaClient = KafkaClient()
    scoring: ScoringConfig = ScoringConfig()
    correlation: CorrelationConfig = CorrelationConfig()
    derived: DerivedSeriesConfig = DerivedSeriesConfig()
    log_patterns: LogPatternsConfig = LogPatternsConfig()
    multivariate: MultivariateConfig = MultivariateConfig()
    intake: IntakeConfig = IntakeConfig()
    labels: LabelsConfig = LabelsConfig()
    redaction: RedactionConfig = RedactionConfig()
    tracing: TracingConfig = TracingConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    notify: NotifyConfig = NotifyConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    governance: GovernanceConfig = GovernanceConfig()
    prediction: PredictionConfig = PredictionConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()

    @field_validator("inputs")
    @classmethod
    def _known_streams(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for stream in value:
            if stream not in INPUT_STREAMS:
                raise ValueError(f"unknown input stream {stream!r}; expected {INPUT_STREAMS}")
        return value


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> AlertflowConfig:
    """Read a YAML or TOML file (by extension), apply ``overrides`` on top, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_file(path)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        config = AlertflowConfig.model_validate(data)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{where}:\n{exc}{_unknown_hints(exc)}") from None
    base = path.parent if path else Path()
    if config.prediction.alert_rules:
        config = _with_rule_thresholds(config, base)
    if config.prediction.lstm:  # weights files are named as alert rules are: from the config
        lstm = [s.model_copy(update={"weights": base / s.weights}) for s in config.prediction.lstm]
        prediction = config.prediction.model_copy(update={"lstm": lstm})
        config = config.model_copy(update={"prediction": prediction})
    return config


def _unknown_hints(exc: ValidationError) -> str:
    """A "did you mean" line per unknown setting that is one typo away from a known one."""
    hints = []
    for error in exc.errors():
        if error["type"] != "extra_forbidden":
            continue
        *parents, name = (str(part) for part in error["loc"])
        model: Any = AlertflowConfig
        for part in parents:  # the settings class that holds the unknown name, if any
            field = model.model_fields.get(part) if isinstance(model, type) else None
            model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        close = difflib.get_close_matches(name, list(model.model_fields), n=1)
        if close:
            known, unknown = ".".join([*parents, close[0]]), ".".join([*parents, name])
            hints.append(f"\n{unknown}: did you mean {known}?")
    return "".join(hints)


def _with_rule_thresholds(config: AlertflowConfig, base: Path) -> AlertflowConfig:
    """Add a threshold per alerting rule in ``prediction.alert_rules`` (relative to ``base``)."""
    added = []
    for rules in config.prediction.alert_rules:
        try:
            found, skipped = thresholds_from_rules(base / rules)
            added += [Threshold.model_validate(data) for data in found]
        except (AlertRuleError, ValidationError) as exc:
            raise ConfigError(f"prediction.alert_rules: {exc}") from None
        for reason in skipped:
            _log.warning("prediction.alert_rules: skipped %s", reason)
    prediction = config.prediction.model_copy(
        update={"thresholds": [*config.prediction.thresholds, *added]}
    )
    return config.model_copy(update={"prediction": prediction})


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"config file {path}: expected a .yaml, .yml or .toml extension")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    return data


# librdkafka's own keys contain dots: below these paths the rest of a dotted key is one name.
_PASSTHROUGH = ("kafka.config", "kafka.secrets")


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    for prefix in _PASSTHROUGH:
        if dotted.startswith(prefix + "."):
            parents, leaf = prefix.split("."), dotted[len(prefix) + 1 :]
            break
    else:
        *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
