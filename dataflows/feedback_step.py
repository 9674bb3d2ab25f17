"""The flow's feedback step: verdicts in, incident pages judged by what was learned.

Incident versions teach the learner which kinds each incident holds; verdicts from the
``feedback`` input count for those kinds; a notification whose incident is all learned
noise gets ``suppressed_by`` with the explanation, and the resolution of an incident
whose opening was held back is held back too. One key: verdicts are few and every
domain's incidents must learn from all of them.
"""

import copy
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from alertflow.dataflows.job_metrics import LIVE_STATE
from alertflow.operators.correlation.incident_render import render_notification
from alertflow.operators.decisions import Decision
from alertflow.operators.prediction.feedback import FeedbackLearner, FeedbackSettings, Member
from alertflow.operators.prediction.severity import SeverityClassifier, incident_features
from alertflow.operators.restorable import resumed
from alertflow.schemas.config_feedback import FeedbackConfig
from alertflow.schemas.outputs import Incident
from alertflow.schemas.records import FeedbackEvent
from alertflow.schemas.timefmt import parse_rfc3339_ns
from bytewax.operators import StatefulBatchLogic

_MAX_MUTED = 20_000


@dataclass
class FeedbackState:
    """What a snapshot keeps: the learner, and which open incidents' pages are held."""

    learner: FeedbackLearner
    muted: OrderedDict[str, str] = field(default_factory=OrderedDict)
    severity: SeverityClassifier | None = None


def settings_of(config: FeedbackConfig) -> FeedbackSettings:
    """The learner's settings from the config section."""
    return FeedbackSettings(config.min_verdicts, config.noise_share, config.window_s)


class FeedbackLogic(StatefulBatchLogic[list, list[Decision], FeedbackState]):
    """Learns from verdicts and judges the pages of incidents as they pass."""

    def __init__(self, state: FeedbackState | None, config: FeedbackConfig) -> None:
        LIVE_STATE.add(self)  # its size is read when Prometheus scrapes
        self.state = resumed(state, FeedbackState(FeedbackLearner(settings_of(config))))
        if self.state.severity is None:  # a new state, or a snapshot from before the model
            self.state.severity = SeverityClassifier(
                min_labelled=config.severity_min_labelled,
                min_confidence=config.severity_confidence,
            )
        self.severity = self.state.severity

    def on_batch(self, values: list[list]) -> tuple[list[list[Decision]], bool]:
        """Learn verdicts; pass decision batches on, their notifications judged."""
        out = []
        learner = self.state.learner
        for batch in values:
            if batch and isinstance(batch[0], FeedbackEvent):
                for event in batch:
                    learner.learn(event)
                    self.severity.learn(event.target, event.severity)
                continue
            unmuted = []
            for decision in batch:
                if decision.stream == "incidents":
                    learner.observe_incident(decision.field("incident_id"),
                                             _members(decision.field("members") or ()))
                    self.severity.observe(decision.field("incident_id"), _features(decision))
                    unmuted += self._unmute(decision)
            for decision in batch:
                if decision.stream == "notifications":
                    self._judge(decision)
            out.append(batch + unmuted)
        return out, False

    def _unmute(self, decision: Decision) -> list[Decision]:
        """A held incident that grew a kind nobody called noise pages now, as an opening."""
        incident = decision.record
        incident_id = decision.field("incident_id")
        if incident_id not in self.state.muted or decision.field("status") == "resolved":
            return []
        at_ns = parse_rfc3339_ns(decision.field("updated_at"))
        kinds = self.state.learner.targets.get(incident_id, ())
        if self.state.learner.why_muted(kinds, at_ns) is not None:
            return []
        del self.state.muted[incident_id]
        if isinstance(incident, dict):  # busy streams carry plain fields (see Record)
            incident = Incident.model_validate(incident)
        note = render_notification("incident_opened", incident)
        return [Decision("notifications", incident_id, note, decision.inputs, decision.read_ns)]

    def _judge(self, decision: Decision) -> None:
        judgement = self.severity.judge(decision.record.incident_id)
        if judgement is not None:  # an opinion beside the rules' severity, never a new page
            decision.record = decision.record.model_copy(update={
                "learned_severity": judgement.severity, "learned_severity_why": judgement.why})
        note = decision.record
        incident_id = note.incident_id
        muted = self.state.muted
        if note.kind == "incident_resolved":
            why = muted.pop(incident_id, None)
            if why is not None:
                decision.record = note.model_copy(
                    update={"suppressed_by": f"its opening was held back ({why})"})
            return
        kinds = self.state.learner.targets.get(incident_id, ())
        at_ns = parse_rfc3339_ns(note.ts)
        why = self.state.learner.why_muted(kinds, at_ns)
        if why is None:
            muted.pop(incident_id, None)
            return
        muted[incident_id] = why
        while len(muted) > _MAX_MUTED:
            muted.popitem(last=False)
        decision.record = note.model_copy(update={"suppressed_by": why})

    def snapshot(self) -> FeedbackState:
        """A deep copy: verdicts survive a restart."""
        return copy.deepcopy(self.state)


_FEATURE_FIELDS = ("services", "opened_at", "updated_at", "severity")


def _features(decision: Decision) -> dict[str, float]:
    fields = {name: decision.field(name) for name in _FEATURE_FIELDS}
    return incident_features(fields, decision.field("members") or ())


def _members(members: Any) -> list[Member]:
    out = []
    for m in members:
        if isinstance(m, dict):
            out.append((m["kind"], m["id"], m.get("labels") or {}))
        else:
            out.append((m.kind, m.id, m.labels))
    return out
