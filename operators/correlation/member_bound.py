"""Bounded incident members: the strongest and earliest kept, the rest counted (issue 10).

An incident's members are what every version renders and what the ranking reads, so an
incident that gathers thousands of anomalous series would make each version large and
each ranking slow. Past ``max_members``, a newcomer replaces the weakest listed member
if it is stronger, otherwise it is counted in ``members_omitted`` only. Alerts are what
operators chose to watch: they outrank any evidence; among evidence a higher score, then
an earlier start, wins.
"""

from collections.abc import Iterable

from alertflow.operators.correlation.alert_dedup import AlertMember


def strength(member: AlertMember) -> tuple[bool, float, int]:
    """How much a member is worth keeping: alerts first, then score, then the earliest."""
    return (member.kind == "alert", member.score, -member.first_ns)


def to_evict(members: Iterable[AlertMember], newcomer: AlertMember) -> AlertMember | None:
    """The listed member ``newcomer`` replaces, or None: it is the weakest and is only counted.

    >>> old = AlertMember("s1", {}, {}, 0, 0, "firing", kind="anomaly", score=0.4)
    >>> new = AlertMember("a1", {"service": "db"}, {}, 9, 9, "firing")
    >>> to_evict([old], new).fingerprint
    's1'
    >>> to_evict([new], old) is None
    True
    """
    weakest = min(members, key=strength, default=None)
    if weakest is None or strength(weakest) >= strength(newcomer):
        return None
    return weakest
