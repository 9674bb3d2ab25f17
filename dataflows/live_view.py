"""One-line names for series in terminal output (``alertflow demo --verbose``).

The demo used to print decisions here as the flow made them, in processing
order; it now reports from the output files in event time (``demo_report``).
"""

from alertflow.schemas.outputs import Anomaly

_IDENTIFYING_LABELS = ("service", "job", "host", "instance", "pod")


def short_series(anomaly: Anomaly) -> str:
    """``name{service=...}``: the metric and its most identifying label, for one-line display."""
    for label in _IDENTIFYING_LABELS:
        if label in anomaly.labels:
            return f"{anomaly.name}{{{label}={anomaly.labels[label]}}}"
    return anomaly.series if len(anomaly.series) <= 80 else anomaly.series[:77] + "..."
