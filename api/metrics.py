"""Alert analytics as Prometheus metrics (text exposition), via prometheus_client."""

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

_PER_RULE = (
    ("notifications", "alertflow_alert_notifications", "Firing notifications in the range."),
    ("alerts", "alertflow_alerts", "Distinct alerts (fingerprints) in the range."),
    ("flapping_alerts", "alertflow_alerts_flapping", "Alerts that started more than once."),
    ("absorbed_share", "alertflow_alerts_absorbed_ratio", "Share of alerts inside incidents."),
    ("incidents", "alertflow_incidents", "Incidents opened in the range that hold its alerts."),
    ("mtta_s", "alertflow_incident_mtta_seconds", "Mean time from opening to acknowledge."),
    ("mttr_s", "alertflow_incident_mttr_seconds", "Mean time from opening to resolve."),
)


class _Snapshot:
    """Collects one analytics result (a fresh registry per scrape: no global state)."""

    def __init__(self, analytics: dict[str, Any]) -> None:
        self.analytics = analytics

    def collect(self) -> Iterator[Metric]:
        for by in ("rule", "service", "team"):
            for field, name, doc in _PER_RULE:
                family = GaugeMetricFamily(f"{name}_by_{by}", doc, labels=[by])
                for row in self.analytics[f"{by}s"]:
                    if row[field] is not None:  # no acknowledgement yet: no MTTA sample
                        family.add_metric([row[by]], row[field])
                yield family
        incidents = self.analytics["incidents"]
        for key in ("opened", "acknowledged", "resolved"):
            yield GaugeMetricFamily(
                f"alertflow_incidents_{key}", f"Incidents opened in the range, {key}.",
                value=incidents[key],
            )
        for key, what in (("mtta_s", "acknowledge"), ("mttr_s", "resolve")):
            if incidents[key] is not None:
                yield GaugeMetricFamily(
                    f"alertflow_incident_{key[:4]}_seconds",
                    f"Mean time from opening to {what}.",
                    value=incidents[key],
                )


def prometheus_text(analytics: dict[str, Any]) -> bytes:
    """The analytics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(analytics))  # type: ignore[arg-type]
    return generate_latest(registry)
