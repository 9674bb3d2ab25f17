"""Multivariate scoring in the flow: one :class:`EntityScorer` per entity, anomalies out.

An entity is what the ``by`` labels name (a service, an instance); its metrics are the
series' names plus their other labels. A closed window whose score reaches ``threshold``
becomes an ``anomalies`` record for the entity: ``value`` and ``score`` are the isolation
score, the band is [0, threshold], and ``detectors`` names the metrics that set the
window apart (``multivariate:<metric>``).
"""

from collections.abc import Iterable, Sequence

from alertflow.operators.decisions import Decision
from alertflow.operators.ids import stable_id
from alertflow.operators.multivariate import EntityScore, EntityScorer, entity_of
from alertflow.operators.normalize import LabelPolicy, clean_labels, series_key
from alertflow.schemas.outputs import Anomaly
from alertflow.schemas.records import MetricSample
from alertflow.schemas.timefmt import format_ns


def by_entity(
    samples: Iterable[MetricSample], by: Sequence[str], policy: LabelPolicy | None = None
) -> list[tuple[str, tuple[str, list[tuple[str, float, int]]]]]:
    """Group a batch's samples by entity as ``(metric, value, ts_ns)``; others are skipped.

    Each group is keyed by its entity and also carries it, since the engine does not hand
    a key's state builder the key. Labels are cleaned here too (cleaning is idempotent),
    so the result does not depend on whether the scoring branch cleaned them first.
    """
    policy = policy or LabelPolicy()
    groups: dict[str, list[tuple[str, float, int]]] = {}
    for sample in samples:
        labels = clean_labels(sample.labels, policy)
        entity = entity_of(labels, by)
        if entity is None:
            continue
        rest = {k: v for k, v in labels.items() if k not in by}
        groups.setdefault(entity, []).append(
            (series_key(sample.name, rest), sample.value, sample.ts_ns)
        )
    return [(entity, (entity, group)) for entity, group in groups.items()]


class EntityAnomalies:
    """Feeds one entity's samples to its scorer and turns high scores into anomaly records."""

    def __init__(
        self, entity: str, threshold: float, window_s: float, lateness_s: float, max_metrics: int
    ) -> None:
        self.entity = entity
        self.threshold = threshold
        self.scorer = EntityScorer(
            entity, window_s=window_s, lateness_s=lateness_s, max_metrics=max_metrics
        )

    def add(self, samples: Iterable[tuple[str, float, int]]) -> list[Decision]:
        """Add ``(metric, value, ts_ns)`` samples; return anomalies of the windows they close."""
        out: list[Decision] = []
        for metric, value, ts_ns in samples:
            out.extend(self._decide(self.scorer.add(metric, value, ts_ns)))
        return out

    def flush(self) -> list[Decision]:
        """End of a bounded input: close and judge every open window."""
        return self._decide(self.scorer.flush())

    def _decide(self, verdicts: list[EntityScore]) -> list[Decision]:
        out = []
        for verdict in verdicts:
            if verdict.score < self.threshold:
                continue
            key = f"entity{{{self.entity}}}"
            record = Anomaly(
                id=stable_id(key, verdict.window_end_ns),
                series=key,
                name="entity",
                labels={"entity": self.entity},
                ts=format_ns(verdict.window_end_ns),
                value=verdict.score,
                score=verdict.score,
                expected=0.0,
                lower=0.0,
                upper=self.threshold,
                detectors=[f"multivariate:{m}" for m in verdict.top_metrics()],
                severity="warning",
            )
            out.append(Decision("anomalies", key, record))
        return out
