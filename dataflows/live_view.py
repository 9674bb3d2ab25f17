"""A readable terminal view of decisions as the flow makes them (``alertflow demo``)."""

import sys
from collections import Counter
from typing import TextIO

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from operators.decisions import Decision
from schemas.outputs import Anomaly, DeadLetter, Incident

_COLORS = {"critical": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "ok": "\033[32m"}
_RESET = "\033[0m"
_ANOMALIES_SHOWN_PER_SERIES = 1
_IDENTIFYING_LABELS = ("service", "job", "host", "instance", "pod")
# Series the flow derives from spans (operators.red_metrics): evidence from traces.
_TRACE_SERIES = ("anomaly:alertflow_request", "anomaly:alertflow_edge_")
_EVIDENCE_SHOWN = 4  # new log and trace members per incident version


def short_series(anomaly: Anomaly) -> str:
    """``name{service=...}``: the metric and its most identifying label, for one-line display."""
    for label in _IDENTIFYING_LABELS:
        if label in anomaly.labels:
            return f"{anomaly.name}{{{label}={anomaly.labels[label]}}}"
    return anomaly.series if len(anomaly.series) <= 80 else anomaly.series[:77] + "..."


class TerminalView:
    """Formats decisions as one or a few lines each; quiet on repeats."""

    def __init__(self, out: TextIO = sys.stdout, color: bool | None = None) -> None:
        self.out = out
        self.color = out.isatty() if color is None else color
        self.counts: Counter[str] = Counter()
        self.shown_per_series: Counter[str] = Counter()
        self.shown_incidents: dict[str, tuple[int, str | None]] = {}
        self.shown_members: set[tuple[str, str]] = set()  # (incident, member) already listed

    def _paint(self, text: str, tone: str) -> str:
        return f"{_COLORS[tone]}{text}{_RESET}" if self.color else text

    def show(self, decision: Decision) -> None:
        """Print one decision (or count it silently)."""
        self.counts[decision.stream] += 1
        record = decision.record
        if decision.stream == "incidents":
            self._incident(record)
        elif isinstance(record, Anomaly) and decision.stream == "anomalies":
            self.shown_per_series[record.series] += 1
            seen = self.shown_per_series[record.series]
            if seen <= _ANOMALIES_SHOWN_PER_SERIES:
                line = (
                    f"  {record.ts}  anomaly  {short_series(record)}  value={record.value:.4g} "
                    f"expected {record.lower:.4g}..{record.upper:.4g}  score={record.score:.3f}"
                )
                self.out.write(self._paint(line, record.severity) + "\n")
        elif isinstance(record, DeadLetter):
            self.out.write(f"  dlq      {record.source}:{record.offset}  {record.reason}\n")
        self.out.flush()

    def _incident(self, incident: Incident) -> None:
        # Member status flips are in the output file; the view shows new members and new causes.
        top = incident.root_causes[0].service if incident.root_causes else None
        shape = (len(incident.members), top)
        if incident.status == "updated" and self.shown_incidents.get(incident.incident_id) == shape:
            return
        self.shown_incidents[incident.incident_id] = shape
        tone = "ok" if incident.status == "resolved" else incident.severity
        head = (
            f"{incident.updated_at}  INCIDENT {incident.status.upper():8} "
            f"{incident.incident_id[:8]} v{incident.version}  [{incident.severity}]  "
            f"{incident.summary}"
        )
        self.out.write(self._paint(head, tone) + "\n")
        if incident.status != "resolved":
            for rank, cause in enumerate(incident.root_causes[:3], start=1):
                evidence = "; ".join(cause.evidence)
                self.out.write(
                    f"      cause #{rank} {cause.service} ({cause.score:.2f}): {evidence}\n"
                )
            self._evidence(incident)

    def _evidence(self, incident: Incident) -> None:
        """New log-template and trace-derived members: what logs and spans say."""
        shown = 0
        for member in incident.members:
            key = (incident.incident_id, member.id)
            if shown >= _EVIDENCE_SHOWN or key in self.shown_members:
                continue
            if member.kind == "log":
                template = member.labels.get("template", member.id)
                line = f'      log   {member.service}: "{template[:100]}" {member.count}x'
            elif member.kind == "anomaly" and member.id.startswith(_TRACE_SERIES):
                line = f"      trace {member.service}: {_trace_series(member.id)} anomalous"
            else:
                continue
            self.shown_members.add(key)
            self.out.write(line + "\n")
            shown += 1

    def summary(self) -> str:
        """Totals per output stream."""
        totals = ", ".join(f"{stream}: {n}" for stream, n in sorted(self.counts.items()))
        return f"{totals} (only each series' first anomaly was shown above)"


def _trace_series(member_id: str) -> str:
    """``alertflow_edge_..{caller -> callee}`` or the per-service series name, for display."""
    name, _, labels = member_id.removeprefix("anomaly:").partition("{")
    pairs = dict(p.split("=", 1) for p in labels.rstrip("}").split(",") if "=" in p)
    caller, callee = pairs.get("caller", "").strip('"'), pairs.get("callee", "").strip('"')
    return f"{name}{{{caller} -> {callee}}}" if caller and callee else name


class _ViewPartition(StatelessSinkPartition[Decision]):
    def __init__(self, view: TerminalView) -> None:
        self.view = view

    def write_batch(self, items: list[Decision]) -> None:
        for item in items:
            self.view.show(item)


class TerminalViewSink(DynamicSink[Decision]):
    """Shows decisions in the terminal; meant for a single-worker demo."""

    def __init__(self, view: TerminalView) -> None:
        self.view = view

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ViewPartition:
        """Every worker prints to the same view."""
        return _ViewPartition(self.view)
