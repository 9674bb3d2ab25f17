"""Preventive recommendations: patterns a forecast or incident shows, mapped to actions.

The catalogue is data (``catalogue.yaml``, shipped with the package) that users extend
or override by rule id in ``prediction.recommendations``. A rule applies when its label
matchers select the series and its pattern's test finds evidence in the forecast; the
record carries the actions with that evidence, so a reader can judge the match.
"""

from dataclasses import dataclass
from importlib import resources

import yaml
from alertflow.schemas.config_prediction import RecommendationRule, Threshold
from alertflow.schemas.errors import AlertflowError
from alertflow.schemas.outputs import Recommendation

PATTERNS = (
    "saturation_trend",
    "leak_growth",
    "budget_burn",
    "backlog_growth",
    "exhaustion",
    "bad_deploy",
)
# Labels and alert names that say a deploy or rollout is involved.
_DEPLOY_LABELS = ("version", "image", "revision", "deployment_version")
_DEPLOY_WORDS = ("deploy", "rollout", "rollback", "release", "version", "replicasmismatch")


class CatalogueError(AlertflowError, ValueError):
    """A recommendation rule is malformed."""


@dataclass(frozen=True, slots=True)
class TrendEvidence:
    """What a forecast shows about a series, as the pattern tests need it."""

    name: str
    labels: dict[str, str]
    value: float  # the current level
    trend_per_h: float
    rising_share: float  # share of recent buckets whose level rose
    direction: str  # of the threshold: above or below
    level: float
    eta_s: float | None  # seconds to the predicted breach

    @property
    def toward(self) -> bool:
        """Whether the trend heads for the threshold."""
        return self.trend_per_h > 0 if self.direction == "above" else self.trend_per_h < 0

    def describe(self) -> str:
        """One line: the level, the slope and when it breaches."""
        eta = f", breach in {self.eta_s / 3600:.1f} h" if self.eta_s is not None else ""
        sign = ">" if self.direction == "above" else "<"
        return f"{self.value:.4g} moving {self.trend_per_h:+.3g}/h toward {sign}{self.level:g}{eta}"


def _evidence(pattern: str, ev: TrendEvidence) -> str | None:
    """The evidence for ``pattern`` in a forecast, or None when it does not show."""
    if not ev.toward:
        return None
    if pattern == "saturation_trend" and ev.direction == "above":
        return f"saturation trend: {ev.describe()}"
    if pattern == "leak_growth" and ev.trend_per_h > 0 and ev.rising_share >= 0.7:
        return f"leak-like growth: rose in {ev.rising_share:.0%} of recent buckets; {ev.describe()}"
    if pattern == "backlog_growth" and ev.trend_per_h > 0 and ev.rising_share >= 0.6:
        return f"backlog growing in {ev.rising_share:.0%} of recent buckets; {ev.describe()}"
    if pattern in ("budget_burn", "exhaustion"):
        word = "error budget burning" if pattern == "budget_burn" else "running out"
        return f"{word}: {ev.describe()}"
    if pattern == "bad_deploy":
        version = next((ev.labels[k] for k in _DEPLOY_LABELS if ev.labels.get(k)), None)
        if version is not None:
            return f"trend on a series of deploy {version}: {ev.describe()}"
    return None


class Catalogue:
    """The rules in force: the shipped ones, then the config's (same id replaces).

    >>> cat = Catalogue.load()
    >>> ev = TrendEvidence("disk_used_ratio", {}, 0.8, 0.02, 0.9, "above", 0.9, 18000.0)
    >>> [r.id for r in cat.for_forecast(ev)]
    ['disk-exhaustion']
    """

    def __init__(self, rules: list[RecommendationRule]) -> None:
        for rule in rules:
            if rule.pattern not in PATTERNS:
                raise CatalogueError(
                    f"recommendation {rule.id!r}: unknown pattern {rule.pattern!r}; "
                    f"expected one of {PATTERNS}"
                )
        self.rules = rules
        # The matcher grammar is the thresholds' (one implementation of it).
        self.selectors = [
            Threshold(match=r.match, above=0.0) if r.match else None for r in rules
        ]

    @classmethod
    def load(cls, extra: list[RecommendationRule] | None = None) -> "Catalogue":
        """The shipped catalogue with ``extra`` rules added or replacing by id."""
        text = resources.files(__package__).joinpath("catalogue.yaml").read_text()
        by_id = {r["id"]: RecommendationRule.model_validate(r) for r in yaml.safe_load(text)}
        for rule in extra or []:
            by_id[rule.id] = rule
        return cls(list(by_id.values()))

    def _selected(self, i: int, name: str, labels: dict[str, str]) -> bool:
        selector = self.selectors[i]
        return selector is None or selector.matches(name, labels)

    def for_forecast(self, ev: TrendEvidence) -> list[Recommendation]:
        """The rules whose matchers select the series and whose pattern shows."""
        out = []
        for i, rule in enumerate(self.rules):
            if not self._selected(i, ev.name, ev.labels):
                continue
            evidence = _evidence(rule.pattern, ev)
            if evidence is not None:
                out.append(_recommendation(rule, evidence))
        return out

    def for_alerts(self, members: list[tuple[str, dict[str, str]]]) -> list[Recommendation]:
        """Deploy rules for an incident whose alerts (name, labels) speak of a deploy."""
        out = []
        for rule in self.rules:
            if rule.pattern != "bad_deploy":
                continue
            for name, labels in members:
                evidence = _deploy_evidence(name, labels)
                if evidence is not None:
                    out.append(_recommendation(rule, evidence))
                    break
        return out


    def for_incident(self, members: list[tuple[str, str, dict[str, str]]]) -> list[Recommendation]:
        """The rules an incident's members, ``(kind, name, labels)``, select; deploy rules first.

        A rule applies to the first member its matchers select: an anomalous series by its
        metric name and labels (as a forecast's series), an alert by its name lower-cased
        (alert names are CamelCase, the catalogue's matchers snake_case) and its labels.
        No trend was measured, so the evidence says what matched, not a slope.

        >>> cat = Catalogue.load()
        >>> [r.evidence for r in cat.for_incident([("alert", "DiskAlmostFull", {"host": "a"})])]
        ['alert DiskAlmostFull{host="a"} is one of the series disk-exhaustion watches']
        """
        out = self.for_alerts([(name, labels) for _kind, name, labels in members])
        for i, rule in enumerate(self.rules):
            selector = self.selectors[i]
            if rule.pattern == "bad_deploy" or selector is None:
                continue  # a rule without matchers would select every incident
            for kind, name, labels in members:
                if selector.matches(name.lower() if kind == "alert" else name, labels):
                    shown = ",".join(f'{k}="{v}"' for k, v in _shown(labels))
                    evidence = f"{kind} {name}{{{shown}}} is one of the series {rule.id} watches"
                    out.append(_recommendation(rule, evidence))
                    break
        return out


def _shown(labels: dict[str, str]) -> list[tuple[str, str]]:
    """A few labels to name a member by (its name is already said)."""
    return [kv for kv in sorted(labels.items()) if kv[0] not in ("alertname", "__name__")][:4]


def _deploy_evidence(name: str, labels: dict[str, str]) -> str | None:
    lowered = name.lower()
    if any(word in lowered for word in _DEPLOY_WORDS):
        return f"alert {name} speaks of a deploy"
    version = next((labels[k] for k in _DEPLOY_LABELS if labels.get(k)), None)
    return None if version is None else f"alert {name} on version {version}"


def _recommendation(rule: RecommendationRule, evidence: str) -> Recommendation:
    return Recommendation(id=rule.id, pattern=rule.pattern, actions=rule.actions, evidence=evidence)


def as_text(recs: list[Recommendation]) -> list[str]:
    """Incident records carry recommendations as lines: action, then the evidence."""
    return [f"{action} ({rec.evidence})" for rec in recs for action in rec.actions]
