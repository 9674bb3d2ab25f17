"""Log templates per service: one template repeating is one member, and its bursts are evidence.

Only WARN-and-above lines are mined, by ``operators.log_miner.TemplateMiner``
(variable parts masked, then Drain-style grouping that lets lines that are
mostly parameters join their template). Per template
a few numbers are kept: lines in the current event-time bucket, an EWMA of
lines per bucket (the baseline), first and last seen, total.

In a service's first ``warmup_s`` its templates are only learned. Then a
template turns *notable* on the line that brings its bucket to
``min_count + ratio * baseline`` lines (``new_min_count`` instead of
``min_count`` while a template first seen after the warm-up is younger than
``warmup_s``), and a ``LogSignal`` goes out on that very line. A template
first seen after the warm-up on an error-or-worse line is a novelty: notable
on that first line (``novelty``). While
notable, one refresh per bucket carries the lines since the last signal, sent
when the bucket closes (the service's newest line is in a later bucket); the
burst ends with the first bucket that closes below its threshold. The sum of
a burst's signal counts is the number of lines in its buckets from the one it
turned notable in.

Template ids are the miner's: ``stable_id`` of the masked line that founded
the template, kept while the template widens, so a replay founds the same ids
and lines whose variable parts are all masked get the same id in any process.
The miner holds at most ``max_templates``, evicting rare ones and never one in
a live burst (unless every template is). A pickled miner goes on the same.

After a burst ends its template is *followed* for ``follow_s``: each bucket
with its lines sends a tail signal (``burst=False``) that counts them into
the template's member if that member is in an open incident, and is dropped
otherwise. Per template a series of lines per bucket goes to the detectors
(``operators.log_series``; ``take_series``).
"""

import math
from dataclasses import dataclass

from alertflow.operators.correlation.alert_dedup import (
    MAX_REFS,
    SEVERITY_RANK,
    AlertMember,
    Change,
    evidence_change,
)
from alertflow.operators.log_miner import PREFIX, SETTLE, SIM_TH, Template, TemplateMiner, show
from alertflow.operators.log_miner import mask as mask_params
from alertflow.operators.log_series import TemplateSeries, TemplateSeriesSettings
from alertflow.operators.restorable import Restorable
from alertflow.schemas.errors import AlertflowError
from alertflow.schemas.records import LogEvent, MetricSample
from alertflow.schemas.timefmt import NS_PER_S

LOG_PREFIX = "log:"  # member fingerprints of log templates
MAX_EXAMPLE = 300

_SIGNAL_LEVELS = ("warning", "error", "critical")
_ERROR = _SIGNAL_LEVELS.index("error")
_LEVEL_NAMES = {
    "warning": ("warn", "warning"),
    "error": ("error", "err"),
    "critical": ("fatal", "critical", "crit", "alert", "emergency", "emerg", "panic"),
}
# Raw level name -> index in _SIGNAL_LEVELS; anything else (info, debug, ...) is skipped.
_LEVELS = {
    variant: _SIGNAL_LEVELS.index(level)
    for level, names in _LEVEL_NAMES.items()
    for name in names
    for variant in (name, name.upper(), name.capitalize())
}


def mask(message: str) -> str:
    """The message with its variable parts as ``<*>``, as the miner sees it.

    >>> mask("dial tcp 10.1.2.3:5432: connect: connection refused after 250ms (attempt 2/3)")
    'dial tcp <*>: connect: connection refused after <*> (attempt <*>)'
    """
    return show(mask_params(message))


class LogPatternError(AlertflowError, ValueError):
    """Log pattern settings out of range."""


@dataclass(frozen=True, slots=True)
class LogPatternSettings:
    """When a template's lines count as a burst, and how much is remembered.

    Set on the simulator's logs and on Poisson chatter: no signal in 120
    service-hours of 0.3 to 30 WARN lines a minute over 3 templates (a known
    template at 1 line a minute needs 8 in a minute), while every injected
    incident's root service signals, most within a minute of the first line.
    """

    bucket_s: float = 60.0
    warmup_s: float = 900.0  # templates first seen in a service's first 15 min are baseline
    ratio: float = 3.0
    min_count: int = 5  # lines in one bucket beyond ratio * baseline
    new_min_count: int = 3  # the same for a template new after the warm-up, in its first warmup_s
    halflife_s: float = 3600.0  # of the baseline's EWMA
    max_templates: int = 1000  # per service; rare ones evicted, never one in a live burst
    max_chars: int = 512  # of a message, before masking and mining
    sim_th: float = SIM_TH  # share of equal tokens to join a template (log_miner)
    prefix: int = PREFIX  # leading tokens that must agree
    settle: int = SETTLE  # lines after which a template's constant words stay constant
    novelty: bool = True  # a template new after warm-up is notable on its first error line
    follow_s: float = 3600.0  # after a burst, its template's lines still count into its incident
    max_series: int = 20  # templates per service with a series of lines per bucket
    series_after: int = 3  # lines before a template gets one (one-off lines never do)

    def __post_init__(self) -> None:
        if self.bucket_s <= 0 or self.halflife_s <= 0 or self.warmup_s < 0:
            raise LogPatternError("bucket_s and halflife_s must be positive, warmup_s not negative")
        if self.ratio < 0 or self.min_count < 1 or self.new_min_count < 1:
            raise LogPatternError("ratio must not be negative, min counts must be at least 1")
        if not 0 <= self.sim_th <= 1 or self.prefix < 0 or self.settle < 0:
            raise LogPatternError("sim_th must be in [0, 1], prefix and settle not negative")
        if self.follow_s < 0 or self.max_series < 0 or self.series_after < 1:
            raise LogPatternError("follow_s, max_series not negative, series_after at least 1")
        if self.max_templates < 1 or self.max_chars < 1:
            raise LogPatternError("max_templates and max_chars must be at least 1")


@dataclass(slots=True, frozen=True)
class LogSignal:
    """A template's burst on its way to correlation: its start, or a refresh of it."""

    cluster: str
    service: str
    template_id: str
    template: str
    level: str  # "warning" | "error" | "critical": the highest among the lines covered
    first_ns: int  # first line of this burst
    last_ns: int  # latest line covered
    count: int  # lines covered by this signal
    baseline: float  # lines per minute before the burst (0 for a new template)
    example: str  # one raw message, truncated
    ref: str  # of the latest line covered
    read_ns: int = 0
    burst: bool = True  # False: a tail after the burst, counted only into an open incident

    @property
    def fingerprint(self) -> str:
        """The member key: the template within its service."""
        return f"{LOG_PREFIX}{self.cluster}/{self.service}:{self.template_id}"


@dataclass(slots=True)
class _Template(Restorable):
    template_id: str
    found: Template  # the miner's: its text widens as lines join
    bucket: int  # index of the current bucket (event time // bucket)
    threshold: float  # lines in the current bucket that make it notable
    first_ns: int
    new_until_ns: int  # new (judged by new_min_count) before this; 0 if seen in the warm-up
    last_ns: int = 0
    count: int = 0  # lines in the current bucket
    bucket_first_ns: int = 0
    ewma: float = 0.0  # of lines per bucket over closed buckets, from 0 at the service's start
    baseline: float = 0.0  # the EWMA corrected for its start at 0 (see _roll)
    total: int = 0
    notable: bool = False
    burst_first_ns: int = 0
    burst_baseline: float = 0.0
    pending: int = 0  # lines since the last signal, while notable
    rank: int = 0  # highest level index since the last signal or bucket start
    follow_until_ns: int = 0  # tails are signalled until then, after a burst
    message: str = ""
    ref: str = ""


class LogPatterns:
    """One service's log templates and their bursts.

    >>> lp = LogPatterns("c1", "cart", LogPatternSettings(warmup_s=0))
    >>> lines = [LogEvent(i * 10**9, "cart", "error", f"upstream db returned 500 for {i:x}0ff3c1")
    ...          for i in range(4)]
    >>> [(s.template, s.count, s.ref) for s in lp.on_logs(lines)]  # on the third line
    [('upstream db returned <*> for <*>', 3, '')]
    >>> [(s.count, s.first_ns, s.last_ns) for s in lp.flush()]
    [(1, 0, 3000000000)]
    """

    def __init__(
        self, cluster: str, service: str, settings: LogPatternSettings | None = None
    ) -> None:
        self.cluster = cluster
        self.service = service
        self.settings = settings = settings or LogPatternSettings()
        self.miner = TemplateMiner(
            sim_th=settings.sim_th,
            prefix=settings.prefix,
            settle=settings.settle,
            max_templates=settings.max_templates,
        )
        self.bucket_ns = int(settings.bucket_s * NS_PER_S)
        self.keep = 0.5 ** (settings.bucket_s / settings.halflife_s)  # EWMA weight of the past
        self.templates: dict[str, _Template] = {}  # by template id, as the miner holds them
        self.notable: dict[str, _Template] = {}
        self.following: dict[str, _Template] = {}  # bursts that ended less than follow_s ago
        self.series = TemplateSeries(
            cluster,
            service,
            self.bucket_ns,
            TemplateSeriesSettings(settings.max_series, settings.series_after),
        )
        self.samples: list[MetricSample] = []  # series samples not yet taken
        self.warm_ns: int | None = None  # the warm-up's end
        self.warm = False  # past it (to the bucket): templates are judged, and new ones new
        self.first_bucket = 0  # of the service's first line
        self.seen_ns = 0  # a line of the service's newest bucket, any level (for idleness)
        self.next_bucket_ns = -(2**63)

    def on_logs(self, events: list[LogEvent], read_ns: int = 0) -> list[LogSignal]:
        """Fold a batch of the service's lines in arrival order; return the signals due."""
        out: list[LogSignal] = []
        for event in events:
            if event.ts_ns >= self.next_bucket_ns:
                self._enter(event.ts_ns, out, read_ns)
            rank = _LEVELS.get(event.level)
            if rank is not None:
                self._fold(event, rank, out, read_ns)
        return out

    def flush(self, read_ns: int = 0) -> list[LogSignal]:
        """Signal the lines of open bursts and tails not yet covered (end of a bounded input).

        The series' open buckets are closed too (``take_series``).
        """
        out = [self._signal(tpl, read_ns) for tpl in self.notable.values() if tpl.pending]
        out += [
            self._signal(tpl, read_ns, burst=False)
            for tpl in self.following.values()
            if tpl.pending
        ]
        for tpl in (*self.notable.values(), *self.following.values()):
            tpl.pending = tpl.rank = 0
        if self.warm_ns is not None:
            self.samples += self.series.close(self.next_bucket_ns // self.bucket_ns, self.templates)
        return out

    def take_series(self) -> list[MetricSample]:
        """The template series' samples due so far (each handed out once)."""
        samples, self.samples = self.samples, []
        return samples

    def template_of(self, message: str) -> tuple[str, str] | None:
        """The (template id, template) a message fits now, without learning from it."""
        found = self.miner.match(message[: self.settings.max_chars])
        tpl = None if found is None else self.templates.get(found.template_id)
        return None if tpl is None else (tpl.template_id, tpl.found.template())

    def advance(self, now_ns: int, read_ns: int = 0) -> list[LogSignal]:
        """Close the buckets event time ``now_ns`` is past; return the refreshes due.

        ``on_logs`` does this with every line; call it (with a watermark) only to
        send the refreshes of a service that has gone quiet.
        """
        out: list[LogSignal] = []
        self._close_before(now_ns // self.bucket_ns, out, read_ns)
        return out

    def _enter(self, ts_ns: int, out: list[LogSignal], read_ns: int) -> None:
        """The service's newest line is in a later bucket."""
        bucket = ts_ns // self.bucket_ns
        if self.warm_ns is None:
            self.warm_ns = ts_ns + int(self.settings.warmup_s * NS_PER_S)
            self.first_bucket = bucket
        self.warm = ts_ns >= self.warm_ns
        self.seen_ns = ts_ns
        self.next_bucket_ns = (bucket + 1) * self.bucket_ns
        # Before the bursts' buckets roll (and their counts restart) below.
        self.samples += self.series.close(bucket, self.templates)
        self._close_before(bucket, out, read_ns)

    def _close_before(self, bucket: int, out: list[LogSignal], read_ns: int) -> None:
        """Close notable templates' buckets before ``bucket``: a refresh each, bursts end.

        Followed templates send their tails; following ends ``follow_s`` after the burst.
        """
        for key, tpl in list(self.following.items()):
            if tpl.bucket >= bucket:
                continue
            if tpl.pending:
                out.append(self._signal(tpl, read_ns, burst=False))
            if bucket * self.bucket_ns >= tpl.follow_until_ns:
                del self.following[key]
        for key, tpl in list(self.notable.items()):
            if tpl.bucket >= bucket:
                continue
            if tpl.pending:
                out.append(self._signal(tpl, read_ns))
            if tpl.count < tpl.threshold:
                tpl.notable = False
                del self.notable[key]
                if self.settings.follow_s > 0:
                    tpl.follow_until_ns = bucket * self.bucket_ns + int(
                        self.settings.follow_s * NS_PER_S
                    )
                    self.following[key] = tpl
            self._roll(tpl, bucket)

    def _fold(self, event: LogEvent, rank: int, out: list[LogSignal], read_ns: int) -> None:
        found = self.miner.add(event.message[: self.settings.max_chars], self.notable)
        if self.miner.dropped:  # evicted to make room
            for gone in self.miner.dropped:
                self.templates.pop(gone, None)
                self.notable.pop(gone, None)
                self.following.pop(gone, None)
                self.series.forget(gone)
            self.miner.dropped.clear()
        key = found.template_id
        bucket = event.ts_ns // self.bucket_ns
        tpl = self.templates.get(key)
        if tpl is None:
            tpl = self.templates[key] = self._found(found, event.ts_ns, bucket)
        if bucket > tpl.bucket:
            self._roll(tpl, bucket)
        if tpl.count == 0:
            tpl.bucket_first_ns = event.ts_ns
        tpl.count += 1
        tpl.total += 1
        tpl.last_ns = max(tpl.last_ns, event.ts_ns)
        tpl.rank = max(tpl.rank, rank)
        tpl.message = event.message[:MAX_EXAMPLE]  # no copy when shorter
        tpl.ref = event.ref
        self.series.on_line(key, tpl)
        if tpl.notable:
            tpl.pending += 1
        elif self.warm and (
            tpl.count >= tpl.threshold
            or (self.settings.novelty and tpl.total == 1 and tpl.new_until_ns and rank >= _ERROR)
        ):
            tpl.notable = True
            tpl.burst_first_ns = tpl.bucket_first_ns
            tpl.burst_baseline = tpl.baseline
            tpl.pending = tpl.count
            self.notable[key] = tpl
            self.following.pop(key, None)  # a new burst: its lines are no tail
            out.append(self._signal(tpl, read_ns))
        elif key in self.following:
            tpl.pending += 1

    def _found(self, found: Template, ts_ns: int, bucket: int) -> _Template:
        """State for a template the miner just founded."""
        settings = self.settings
        new_until_ns = ts_ns + int(settings.warmup_s * NS_PER_S) if self.warm else 0
        return _Template(
            template_id=found.template_id,
            found=found,
            bucket=bucket,
            threshold=settings.new_min_count if self.warm else settings.min_count,
            first_ns=ts_ns,
            new_until_ns=new_until_ns,
        )

    def _roll(self, tpl: _Template, bucket: int) -> None:
        """Close the template's bucket into its baseline and start ``bucket``."""
        past = tpl.ewma * self.keep + (1.0 - self.keep) * tpl.count
        tpl.ewma = past * self.keep ** (bucket - tpl.bucket - 1)
        # An EWMA from 0 under-reads until it has seen a few half-lives; dividing by the
        # weight its buckets carry so far (the service's, a template absent before its
        # birth counts 0 there) makes it the weighted mean from the first minute.
        seen = 1.0 - self.keep ** max(1, bucket - self.first_bucket)
        tpl.baseline = tpl.ewma / seen
        tpl.bucket = bucket
        tpl.count = 0
        settings = self.settings
        least = (
            settings.new_min_count
            if bucket * self.bucket_ns < tpl.new_until_ns
            else settings.min_count
        )
        tpl.threshold = least + settings.ratio * tpl.baseline
        if not tpl.notable:
            tpl.rank = 0

    def _signal(self, tpl: _Template, read_ns: int, burst: bool = True) -> LogSignal:
        signal = LogSignal(
            cluster=self.cluster,
            service=self.service,
            template_id=tpl.template_id,
            template=tpl.found.template(),
            level=_SIGNAL_LEVELS[tpl.rank],
            first_ns=tpl.burst_first_ns,
            last_ns=tpl.last_ns,
            count=tpl.pending,
            baseline=tpl.burst_baseline * 60.0 / self.settings.bucket_s,
            example=tpl.message,
            ref=tpl.ref,
            read_ns=read_ns,
            burst=burst,
        )
        tpl.pending = tpl.rank = 0
        return signal


def member_severity(level: str) -> str:
    """Log lines are evidence, not pages: an error burst is a warning, a warning one info."""
    return "info" if level == "warning" else "warning"


def burst_score(count: int, baseline: float) -> float:
    """In [0, 1): ``1 - 2 ** (-lift / 10)``, lift = lines / (1 + baseline per minute).

    Ten lines of a new template score 0.5, thirty 0.875; a template that
    normally logs 5 lines a minute needs six times as many for the same score.
    """
    return 1.0 - math.pow(2.0, -count / (1.0 + baseline) / 10.0)


def describe(template: str, count: int, baseline: float) -> str:
    """A short human line: the template, how many lines, and its usual rate."""
    shown = template if len(template) <= 120 else template[:119] + "…"
    return f'log "{shown}" {count}x (baseline {baseline:.1f}/min)'


def apply_log(member: AlertMember | None, signal: LogSignal) -> tuple[AlertMember, Change]:
    """Fold one signal into the template's member (kind ``log``), returning it and what changed."""
    severity = member_severity(signal.level)
    if member is None:
        member = AlertMember(
            fingerprint=signal.fingerprint,
            # The template rides along for readers of the incident (the member id is its hash).
            labels={
                "service": signal.service,
                "cluster": signal.cluster,
                "template": signal.template,
            },
            annotations={
                "description": describe(signal.template, signal.count, signal.baseline),
                "example": signal.example,
            },
            first_ns=signal.first_ns,
            last_ns=signal.last_ns,
            status="firing",
            count=signal.count,
            refs=[signal.ref],
            kind="log",
            severity=severity,
            score=burst_score(signal.count, signal.baseline),
            title=signal.template,
        )
        return member, Change.NEW
    member.count += signal.count
    member.first_ns = min(member.first_ns, signal.first_ns)
    member.last_ns = max(member.last_ns, signal.last_ns)
    if len(member.refs) < MAX_REFS:
        member.refs.append(signal.ref)
    member.title = signal.template  # the miner may have widened it
    member.labels["template"] = signal.template
    member.annotations["description"] = describe(signal.template, member.count, signal.baseline)
    member.annotations["example"] = signal.example
    member.score = max(member.score, burst_score(member.count, signal.baseline))
    stronger = SEVERITY_RANK[severity] > SEVERITY_RANK[member.severity]
    if stronger:
        member.severity = severity
    return member, evidence_change(member, stronger)
