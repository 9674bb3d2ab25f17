"""Alertmanager-style label matchers: ``team=db``, ``severity!=info``, ``service=~api-.*``.

A notification's labels may hold several values for one name (an incident touches several
services); a matcher on such a name holds when any value matches, and a negative one
(``!=``, ``!~``) when none does.

>>> m = Matcher.parse('service=~"api-.*"')
>>> m.matches({"service": ("db", "api-gateway")})
True
>>> Matcher.parse("severity!=info").matches({"severity": ("info",)})
False
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alertflow.operators.delivery.errors import DeliveryConfigError

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')

Labels = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Matcher:
    """One ``name op value`` test; regexes are anchored, as in Alertmanager."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> "Matcher":
        """Parse ``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex``."""
        found = _MATCHER.match(text)
        if found is None:
            raise DeliveryConfigError(
                f"matcher {text!r}: expected name=value, name!=value, name=~regex or name!~regex"
            )
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(f"(?:{value})")
            except re.error as exc:
                raise DeliveryConfigError(f"matcher {text!r}: bad regex: {exc}") from None
        return cls(name, op, value, regex)

    def matches(self, labels: Labels) -> bool:
        """Whether the labels satisfy this matcher (a missing label is the empty string)."""
        values = labels.get(self.name) or ("",)
        if self.op == "=":
            return self.value in values
        if self.op == "!=":
            return self.value not in values
        assert self._regex is not None
        hit = any(self._regex.fullmatch(v) for v in values)
        return hit if self.op == "=~" else not hit


def parse_all(texts: Sequence[str] | Mapping[str, str]) -> tuple[Matcher, ...]:
    """Matchers from a list of strings, or from a ``{name: value}`` map (equality)."""
    if isinstance(texts, Mapping):
        return tuple(Matcher(name, "=", str(value)) for name, value in texts.items())
    return tuple(Matcher.parse(t) for t in texts)


def all_match(matchers: Sequence[Matcher], labels: Labels) -> bool:
    """True when every matcher holds (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
