"""Lines per log template and event-time bucket, as series the detectors watch.

A template earns a series of its own once it has logged ``watch_after`` lines
(one-off lines never do), while the service has fewer than ``max_series``;
so a template explosion (thousands of new templates) costs at most
``max_series`` series per service. A series is the template's WARN-and-above
lines per bucket (those the miner sees), one sample at each bucket's end,
0 for a bucket without its lines while the service logs: silence of a
template that used to log is a change too. A template quiet for
``idle_buckets`` buckets, or evicted by the miner, gives its slot back.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from alertflow.schemas.records import MetricSample

SERIES = "alertflow_log_template_lines"


class Counted(Protocol):
    """What a template's state must tell: its current bucket and lines in it, its last line."""

    bucket: int
    count: int
    total: int
    last_ns: int


@dataclass(frozen=True, slots=True)
class TemplateSeriesSettings:
    """How many templates of a service get series, and when."""

    max_series: int = 20  # per service: 20 series bound a template explosion
    watch_after: int = 3  # lines before a template gets a series (one-off lines never do)
    idle_buckets: int = 60  # a template silent this long gives its slot back


class TemplateSeries:
    """One service's watched templates and the samples due for them.

    >>> from types import SimpleNamespace as T
    >>> ts = TemplateSeries("c1", "cart", bucket_ns=60, settings=TemplateSeriesSettings(
    ...     watch_after=1))
    >>> tpl = T(bucket=0, count=1, total=1, last_ns=10)
    >>> ts.on_line("abc", tpl)
    >>> [(s.labels["template_id"], s.ts_ns, s.value) for s in ts.close(2, {"abc": tpl})]
    [('abc', 60, 1.0), ('abc', 120, 0.0)]
    """

    def __init__(
        self,
        cluster: str,
        service: str,
        bucket_ns: int,
        settings: TemplateSeriesSettings | None = None,
    ) -> None:
        self.cluster = cluster
        self.service = service
        self.bucket_ns = bucket_ns
        self.settings = settings or TemplateSeriesSettings()
        self.watched: dict[str, int] = {}  # template id -> first bucket not yet emitted
        self.refused = 0  # templates that qualified while every slot was taken

    def on_line(self, template_id: str, tpl: Counted) -> None:
        """A line of ``template_id`` was counted: give it a slot once it qualifies."""
        if tpl.total != self.settings.watch_after or template_id in self.watched:
            return
        if len(self.watched) >= self.settings.max_series:
            self.refused += 1
            return
        self.watched[template_id] = tpl.bucket

    def forget(self, template_id: str) -> None:
        """The miner evicted the template."""
        self.watched.pop(template_id, None)

    def close(self, bucket: int, templates: Mapping[str, Counted]) -> list[MetricSample]:
        """Samples of every watched template's buckets before ``bucket``."""
        out: list[MetricSample] = []
        idle = self.settings.idle_buckets
        for template_id, start in list(self.watched.items()):
            tpl = templates.get(template_id)
            if tpl is None or bucket - tpl.last_ns // self.bucket_ns > idle:
                del self.watched[template_id]
                continue
            labels = {"service": self.service, "cluster": self.cluster, "template_id": template_id}
            for b in range(max(start, bucket - idle), bucket):
                value = float(tpl.count) if b == tpl.bucket else 0.0
                out.append(MetricSample(SERIES, dict(labels), (b + 1) * self.bucket_ns, value))
            self.watched[template_id] = max(start, bucket)
        return out
