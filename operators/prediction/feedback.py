"""Learning from operators' verdicts: stop paging for what they keep calling noise.

A verdict (``true_positive``, ``false_positive`` or ``noise``) on an incident counts for
each *kind* in it: its alerts' ``alertname`` (``alert:KubeHpaMaxedOut``), or, for an
incident of anomalies and log bursts only, their series and templates. A verdict on an
alert fingerprint counts for that alert's kind; one on a series key for that series.

A new incident's pages are held back when every kind in it is learned noise: at least
``min_verdicts`` noise verdicts within the last ``window_s`` (older ones expire, so
suppression fades when verdicts stop) and a noise share of at least ``noise_share``.
The same person's verdict on the same target counts once (their latest stands), so a
re-sent verdict changes nothing and a changed mind replaces the old one.
A noise verdict on an incident condemns every kind in it; a true-positive one vouches for
the incident as a whole, so its credit goes to the kinds in it not suspected of noise
(a throttling alert that rode along with a real disk alert is not cleared by it), judged
anew each time, so a verdict given before a kind became suspect is explained away too.
A verdict given after an instant never judges it, so a replay decides as the live run did.

>>> from alertflow.schemas.records import FeedbackEvent
>>> learner = FeedbackLearner(FeedbackSettings(min_verdicts=2))
>>> day = 86_400 * 10**9
>>> throttled = [("alert", "fp", {"alertname": "CPUThrottlingHigh"})]
>>> for i in range(3):
...     kinds = learner.observe_incident(f"inc{i}", throttled)
...     counted = learner.learn(FeedbackEvent(f"inc{i}", "noise", "alice", at_ns=i * day))
>>> learner.why_muted(["alert:CPUThrottlingHigh"], at_ns=3 * day)
'feedback: CPUThrottlingHigh marked noise in 3 of the last 3 verdicts (by alice)'
>>> learner.why_muted(["alert:CPUThrottlingHigh", "alert:HighErrorRate"], at_ns=3 * day) is None
True
>>> learner.why_muted(["alert:CPUThrottlingHigh"], at_ns=40 * day) is None  # faded
True
"""

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from alertflow.schemas.records import FeedbackEvent

NS_PER_S = 10**9
_NOISE = ("noise", "false_positive")
Member = tuple[str, str, Mapping[str, str]]  # (kind, id, labels)


@dataclass(frozen=True, slots=True)
class FeedbackSettings:
    """How verdicts turn into suppression."""

    min_verdicts: float = 2.0
    noise_share: float = 0.7
    window_s: float = 14 * 86_400.0
    max_verdicts_per_kind: int = 64
    max_targets: int = 20_000


def member_kind(kind: str, member_id: str, labels: Mapping[str, str]) -> str:
    """The kind a member counts for: ``alert:NAME``, ``series:KEY`` or ``log:TEMPLATE``."""
    if kind == "alert":
        return f"alert:{labels.get('alertname', '?')}"
    if kind == "anomaly":
        return f"series:{member_id.removeprefix('anomaly:')}"
    return f"{kind}:{member_id.removeprefix(kind + ':')}"


def incident_kinds(members: Iterable[Member]) -> tuple[str, ...]:
    """Its alerts' kinds when it has alerts (anomalies beside them only add evidence)."""
    members = list(members)
    alerts = [m for m in members if m[0] == "alert"]
    return tuple(sorted({member_kind(*m) for m in (alerts or members)}))


@dataclass
class FeedbackLearner:
    """Verdicts per kind, and which targets (incidents, fingerprints) map to which kinds."""

    # A restart with a changed configuration applies it (operators.restorable.upgrade).
    configured_attributes: ClassVar[tuple[str, ...]] = ("settings",)
    settings: FeedbackSettings = field(default_factory=FeedbackSettings)
    # kind -> {(target, by): (verdict, at_ns, the target's kinds)}, oldest first
    verdicts: dict[str, OrderedDict[tuple[str, str], tuple[str, int, tuple[str, ...]]]] = field(
        default_factory=dict)
    targets: OrderedDict[str, tuple[str, ...]] = field(default_factory=OrderedDict)
    waiting: OrderedDict[tuple[str, str], FeedbackEvent] = field(default_factory=OrderedDict)

    def observe_incident(self, incident_id: str, members: Iterable[Member]) -> tuple[str, ...]:
        """Remember an incident's kinds (and its alerts' fingerprints); apply waiting verdicts."""
        members = list(members)
        kinds = incident_kinds(members)
        self._remember(incident_id, kinds)
        for kind, member_id, labels in members:
            if kind == "alert":
                self._remember(member_id, (member_kind(kind, member_id, labels),))
        for key in [k for k in self.waiting if k[0] in self.targets]:
            self.learn(self.waiting.pop(key))
        return kinds

    def learn(self, event: FeedbackEvent) -> bool:
        """Count a verdict; False when its target is not known yet (it waits, bounded)."""
        kinds = self.targets.get(event.target)
        if kinds is None and "{" in event.target:
            kinds = (f"series:{event.target}",)
        if kinds is None:
            self.waiting[(event.target, event.by)] = event
            while len(self.waiting) > self.settings.max_targets:
                self.waiting.popitem(last=False)
            return False
        for kind in kinds:
            book = self.verdicts.setdefault(kind, OrderedDict())
            book.pop((event.target, event.by), None)
            book[(event.target, event.by)] = (event.verdict, event.at_ns, kinds)
            while len(book) > self.settings.max_verdicts_per_kind:
                book.popitem(last=False)
        return True

    def why_muted(self, kinds: Iterable[str], at_ns: int) -> str | None:
        """Why pages about these kinds are held back at ``at_ns``; None to send them."""
        kinds = list(kinds)
        if not kinds:
            return None
        parts, people = [], set()
        for kind in kinds:
            verdict = self._noise(kind, at_ns)
            if verdict is None:
                return None
            noise, total, by = verdict
            people |= by
            parts.append(f"{kind.split(':', 1)[1]} marked noise in {noise} of the last {total}")
        return f"feedback: {'; '.join(parts)} verdicts (by {', '.join(sorted(people))})"

    def _noise(self, kind: str, at_ns: int) -> tuple[int, int, set[str]] | None:
        noise_weight = self._noise_weight(kind, at_ns)
        if noise_weight < self.settings.min_verdicts - 1e-9:
            return None
        true_weight, noise, total, people = 0.0, 0, 0, set()
        suspect: dict[str, bool] = {}
        for (_, by), (verdict, when, kinds) in self.verdicts[kind].items():
            if when > at_ns or not self._counts(at_ns, when):
                continue
            total += 1
            if verdict in _NOISE:
                noise += 1
                people.add(by)
                continue
            # A true verdict is explained by the target's kinds not suspected of noise;
            # only when all are suspects is the credit shared among them all.
            for other in kinds:
                if other not in suspect:
                    suspect[other] = (self._noise_weight(other, at_ns)
                                      >= self.settings.min_verdicts - 1e-9)
            innocent = [k for k in kinds if not suspect[k]]
            if kind in innocent or not innocent:
                true_weight += self._counts(at_ns, when) / len(innocent or kinds)
        if noise_weight / (noise_weight + true_weight) >= self.settings.noise_share - 1e-9:
            return noise, total, people
        return None

    def _noise_weight(self, kind: str, at_ns: int) -> float:
        book = self.verdicts.get(kind) or {}
        return sum(self._counts(at_ns, when) for verdict, when, _ in book.values()
                   if verdict in _NOISE and when <= at_ns)

    def _counts(self, at_ns: int, when: int) -> float:
        return 1.0 if (at_ns - when) / NS_PER_S <= self.settings.window_s else 0.0

    def _remember(self, target: str, kinds: tuple[str, ...]) -> None:
        self.targets.pop(target, None)
        self.targets[target] = kinds
        while len(self.targets) > self.settings.max_targets:
            self.targets.popitem(last=False)
