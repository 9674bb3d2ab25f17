"""The noise digest: lone warnings that no incident took, one record per domain and window.

Most alerts of a quiet estate are lone warnings: a disk filling slowly, a CPU throttled for
ten minutes, a certificate to renew. Recorded as incidents of their own, each is one more
record in the incident list that nobody is paged for and nobody reads. Instead, a lone
warning that stayed alone ``record_after_s`` (or resolved before) is listed in its domain's
digest for the window it started in (a day by default), grouped by alert name in the
summary: "14 lone alerts of 7 kinds on 9 services, unrelated to any incident". Nothing is
lost: every alert of the digest is one of its members, and one that an incident takes later
(a second alert joined it, or it turned critical) keeps its line with ``incident_id`` naming
that incident. A digest is first written ``interval_s`` of event time after its first line,
then versioned at most once per ``interval_s``, and ends (status resolved) once its window is
over and every member has resolved. One whose window ended before it was first written (a
replay sorted by startsAt lists a weeks-old alert while its clock is on that day) is folded
into the current window's: nobody read it, so it is not a record of its own.

>>> from alertflow.operators.correlation.alert_dedup import AlertMember
>>> digests = NoiseDigests("prod", window_s=86_400, interval_s=900)
>>> disk = AlertMember("fp1", {"alertname": "DiskSpaceLow", "service": "db"}, {}, 0, 0, "firing")
>>> digests.note(disk)
>>> record, inputs = digests.ready(900 * 10**9)[0]
>>> record["kind"], record["status"], [m["id"] for m in record["members"]]
('noise', 'open', ['fp1'])
>>> record["summary"].split(": ")[-1]
'DiskSpaceLow x1 (db)'
"""

from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from alertflow.operators.correlation.alert_dedup import SEVERITY_RANK, AlertMember
from alertflow.operators.correlation.topology import ServiceGraph
from alertflow.operators.decisions import Record
from alertflow.operators.ids import stable_id
from alertflow.operators.restorable import Restorable
from alertflow.schemas.timefmt import NS_PER_S, format_ns

_NEVER = 2**63 - 1
_MAX_INPUTS = 32  # refs a digest version names as its inputs (audit, tracing): bounded

_UNRELATED = " unrelated to any incident"  # the summary's counts end here, its listing follows


@dataclass(slots=True)
class DigestEntry(Restorable):
    """One alert of a digest: what a member line of the record shows."""

    fingerprint: str
    labels: dict[str, str]
    service: str | None
    severity: str
    first_ns: int
    last_ns: int
    status: str
    count: int
    episodes: int
    starts_ns: int
    incident_id: str | None = None  # the incident that took it later, if one did


@dataclass(slots=True)
class NoiseDigest(Restorable):
    """One domain's digest for one window."""

    digest_id: str
    window_ns: int
    end_ns: int
    entries: dict[str, DigestEntry] = field(default_factory=dict)
    omitted: int = 0
    version: int = 0
    versioned_ns: int = 0
    updated_ns: int = 0
    dirty: bool = False
    inputs: list[str] = field(default_factory=list)  # refs of what was noted since the last


def corroborates(
    alerts: Iterable[AlertMember],
    evidence: Iterable[AlertMember],
    graph: ServiceGraph,
    hops: int,
    before_ns: int | None = None,
    after_ns: int | None = None,
    min_count: int = 1,
) -> bool:
    """Whether evidence makes a lone alert a fault seen by one alert, not noise.

    Evidence counts on the alert's own service or one it depends on within ``hops``, only
    when it began at most ``before_ns`` before to ``after_ns`` after the alert started (None:
    any time), and only once it has ``min_count`` samples. A concurrent fault's evidence an
    hour older, two services away on a gateway, or one anomalous sample says nothing about it.
    """
    evidence = [m for m in evidence if m.service and m.count >= min_count]
    for alert in alerts:
        if not alert.service:
            continue
        start = alert.first_ns
        near = {alert.service} | (graph.downstream(alert.service, hops) if hops else set())
        for m in evidence:
            early = before_ns is not None and m.first_ns < start - before_ns
            late = after_ns is not None and m.first_ns > start + after_ns
            if m.service in near and not early and not late:
                return True
    return False


def flaps_alone(alerts: list[AlertMember], max_episodes: int | None) -> bool:
    """Whether a lone alert started ``max_episodes`` episodes (``flap_window_s``) or more.

    A rule that fires, resolves and fires again with nothing else alerting is a badly tuned
    rule, not a fault seen by one alert, even when a concurrent problem's metrics are near.
    """
    return max_episodes is not None and len(alerts) == 1 and alerts[0].episodes >= max_episodes


class LoneKinds:
    """Per alert kind, how many of its latest episodes in a domain ended alone, unexplained.

    An alert kind (its ``alertname``) whose last episodes all fired and resolved alone, no
    other alert joining them and no anomaly corroborating them, is a rule that fires for
    nothing here, whatever severity its owner gave it. :meth:`streak` counts those episodes
    since the kind was last part of an incident (another alert joined, or metrics
    corroborated it); that resets it. Bounded: the least recently ended kinds are forgotten.

    >>> kinds = LoneKinds()
    >>> kinds.ended(["OOMKilled"], alone=True, episodes=2)
    >>> kinds.ended(["OOMKilled"], alone=True)
    >>> kinds.streak("OOMKilled")
    3
    >>> kinds.ended(["OOMKilled", "HighLatency"], alone=False)  # part of an incident once
    >>> kinds.streak("OOMKilled")
    0
    """

    def __init__(self, max_kinds: int = 10_000) -> None:
        self.max_kinds = max_kinds
        self.streaks: OrderedDict[str, int] = OrderedDict()

    def ended(self, kinds: Iterable[str], alone: bool, episodes: int = 1) -> None:
        """An incident ended holding alerts of ``kinds``: alone (one alert, unexplained) or not."""
        for kind in kinds:
            before = self.streaks.pop(kind, 0)  # re-inserted: the latest ended last
            self.streaks[kind] = before + max(1, episodes) if alone else 0
        while len(self.streaks) > self.max_kinds:
            self.streaks.popitem(last=False)

    def streak(self, kind: str | None) -> int:
        """Episodes of ``kind`` that ended alone since it was last part of an incident."""
        return self.streaks.get(kind, 0) if kind else 0


def alert_rule(member: AlertMember) -> str | None:
    """The kind :class:`LoneKinds` learns about: the alert's rule name.

    Not ``inhibition.alert_kind`` (``alertname@service``): the streak is the rule's, on
    any service of the domain.
    """
    return member.labels.get("alertname") or None


class NoiseDigests:
    """A domain's open digests: noted alerts, versions due, digests that end."""

    def __init__(
        self, domain: str, window_s: float, interval_s: float, max_entries: int = 500
    ) -> None:
        self.domain = domain
        self.window_ns = int(window_s * NS_PER_S)
        self.interval_ns = int(interval_s * NS_PER_S)
        self.max_entries = max_entries
        self.digests: dict[int, NoiseDigest] = {}
        self.where: dict[str, int] = {}  # fingerprint -> window of its open digest entry

    def note(self, member: AlertMember, now_ns: int = 0) -> None:
        """List (or refresh) an alert in the digest of the window it is found to be noise in.

        ``now_ns`` is the domain's event time: an alert that started weeks ago, or whose
        copies a replay sorted by their old startsAt, is today's news, not that day's.
        """
        window = self.where.get(member.fingerprint)
        if window is None or member.starts_ns >= window + self.window_ns:
            # New, or a new episode after its digest's window: the current window's news.
            at = max(member.last_ns, now_ns)
            window = at - at % self.window_ns
        digest = self._digest(window, max(member.last_ns, now_ns))
        entry = digest.entries.get(member.fingerprint)
        if entry is None:
            if len(digest.entries) >= self.max_entries:
                digest.omitted += 1  # counted, like an incident's members past max_members
                digest.dirty = True
                return
            entry = DigestEntry(
                member.fingerprint, member.labels, member.service, member.severity,
                member.first_ns, member.last_ns, member.status, member.count,
                max(1, member.episodes), member.starts_ns,
            )  # fmt: skip
            digest.entries[member.fingerprint] = entry
            self.where[member.fingerprint] = window
        if member.refs and len(digest.inputs) < _MAX_INPUTS:
            digest.inputs.append(member.refs[-1])
        if member.starts_ns != entry.starts_ns:  # a re-fire, or a later lone episode
            entry.episodes += 1
            entry.starts_ns = member.starts_ns
        entry.count = max(entry.count, member.count)
        entry.last_ns = max(entry.last_ns, member.last_ns)
        entry.status = member.status
        entry.severity = max(entry.severity, member.severity, key=SEVERITY_RANK.__getitem__)
        digest.updated_ns = max(digest.updated_ns, entry.last_ns, member.resolved_ns or 0)
        digest.dirty = True

    def _digest(self, window: int, now_ns: int) -> NoiseDigest:
        """The window's digest; a new one's first version is due ``interval_s`` after now."""
        digest = self.digests.get(window)
        if digest is None:
            digest = NoiseDigest(
                stable_id(self.domain, "noise", window), window, window + self.window_ns
            )
            digest.versioned_ns = now_ns
            self.digests[window] = digest
        return digest

    def _rehome(self, now_ns: int) -> None:
        """Digests whose window ended before their first version: their lines are now's news.

        A replay ordered by startsAt lists an alert that has fired for weeks while the domain's
        clock still stands on its first day; a day-old report nobody saw is not worth a record
        of its own.
        """
        window = now_ns - now_ns % self.window_ns
        stale = [d for d in self.digests.values() if not d.version and d.end_ns <= now_ns]
        for old in stale:
            del self.digests[old.window_ns]
            digest = self._digest(window, now_ns)
            for fingerprint, entry in old.entries.items():
                if fingerprint in digest.entries:
                    digest.entries[fingerprint].episodes += entry.episodes
                elif len(digest.entries) < self.max_entries:
                    digest.entries[fingerprint] = entry
                    self.where[fingerprint] = window
                else:
                    digest.omitted += 1
                    self.where.pop(fingerprint, None)
            digest.omitted += old.omitted
            digest.inputs = (digest.inputs + old.inputs)[:_MAX_INPUTS]
            digest.updated_ns = max(digest.updated_ns, old.updated_ns)
            digest.dirty = True

    def taken(self, fingerprint: str, incident_id: str) -> None:
        """An incident took a listed alert: its line names the incident from now on."""
        window = self.where.get(fingerprint)
        digest = self.digests.get(window) if window is not None else None
        if digest is None or fingerprint not in digest.entries:
            return
        entry = digest.entries[fingerprint]
        if entry.incident_id != incident_id:
            entry.incident_id = incident_id
            digest.dirty = True

    def due(self) -> int:
        """Event time of the next version or end of a digest."""
        return min((self._due(d) for d in self.digests.values()), default=_NEVER)

    def _due(self, digest: NoiseDigest) -> int:
        due = digest.versioned_ns + self.interval_ns if digest.dirty else _NEVER
        return min(due, digest.end_ns) if self._may_end(digest) else due

    def _may_end(self, digest: NoiseDigest) -> bool:
        return all(e.status != "firing" or e.incident_id for e in digest.entries.values())

    def ready(self, watermark: int) -> list[tuple[Record, tuple[str, ...]]]:
        """Versions due by ``watermark``; a digest whose window ended and is quiet ends."""
        self._rehome(watermark)
        out = []
        for window, digest in list(self.digests.items()):
            ends = digest.end_ns <= watermark and self._may_end(digest)
            if ends or (digest.dirty and digest.versioned_ns + self.interval_ns <= watermark):
                out.append(self._version(digest, watermark, ends))
            if ends:
                self._drop(window)
        return out

    def flush(self, now_ns: int | None = None) -> list[tuple[Record, tuple[str, ...]]]:
        """End of a bounded input (the domain's clock at ``now_ns``): every digest with news."""
        if now_ns is not None:
            self._rehome(now_ns)
        return [self._version(d, d.updated_ns, False) for d in self.digests.values() if d.dirty]

    def _drop(self, window: int) -> None:
        for fingerprint in self.digests.pop(window).entries:
            if self.where.get(fingerprint) == window:
                del self.where[fingerprint]

    def _version(
        self, digest: NoiseDigest, at_ns: int, ends: bool
    ) -> tuple[Record, tuple[str, ...]]:
        """The digest's next version, and the refs of the alerts noted since the last."""
        inputs, digest.inputs = tuple(digest.inputs), []
        digest.version += 1
        digest.versioned_ns = max(digest.versioned_ns, min(at_ns, digest.end_ns))
        digest.dirty = False
        return render_digest(self.domain, digest, ends), inputs


def render_digest(domain: str, digest: NoiseDigest, ends: bool) -> Record:
    """A digest version as an ``incidents`` record (``Incident``'s fields, kind noise)."""
    entries = sorted(digest.entries.values(), key=lambda e: (e.first_ns, e.fingerprint))
    severity = max((e.severity for e in entries), default="info", key=SEVERITY_RANK.__getitem__)
    updated = max(digest.updated_ns, digest.window_ns)
    # Opened when its first line came, not at its window's start: a digest of an afternoon's
    # lone warnings read "lasted 12h51m" (midnight to the last line).
    opened = max(digest.window_ns, min((e.first_ns for e in entries), default=digest.window_ns))
    return digest_record(
        digest.digest_id, digest.version, domain, entries,
        taken_by={e.fingerprint: e.incident_id for e in entries if e.incident_id},
        members=[_member(e) for e in entries], omitted=digest.omitted, severity=severity,
        opened_ns=min(opened, updated), updated_ns=updated,
        resolved_ns=max(updated, digest.end_ns) if ends else None,
    )  # fmt: skip


def digest_record(
    digest_id: str,
    version: int,
    domain: str,
    entries: list[DigestEntry],
    *,
    taken_by: dict[str, str],
    members: list[Record],
    omitted: int,
    severity: str,
    opened_ns: int,
    updated_ns: int,
    resolved_ns: int | None,
) -> Record:
    """A noise digest's ``incidents`` record, a domain's or the estate's.

    :func:`render_digest` and ``estate_digest`` fill it; ``entries`` are its lines in member
    order (summary, services, recommendations), ``taken_by`` which incidents took some of
    them; it has ended when ``resolved_ns`` is given.
    """
    services = sorted({e.service for e in entries if e.service})
    ends = resolved_ns is not None
    return Record(
        {
            "id": stable_id(digest_id, version),
            "incident_id": digest_id,
            "version": version,
            "status": "resolved" if ends else ("open" if version == 1 else "updated"),
            "kind": "noise",
            "taken_by": taken_by,
            "merged_into": None,
            "domain": domain,
            "opened_at": format_ns(opened_ns),
            "updated_at": format_ns(updated_ns),
            "resolved_at": format_ns(resolved_ns) if ends else None,
            "services": services,
            "members": members,
            "members_omitted": omitted,
            "root_causes": [],
            "severity": severity,
            "summary": summary(entries, services),
            "recommendations": _recommendations(entries),
            "outcome": None,
        }
    )


def _member(e: DigestEntry) -> Record:
    return Record(
        {
            "kind": "alert",
            "id": e.fingerprint,
            "ts": format_ns(e.first_ns),
            "last_seen": format_ns(e.last_ns),
            "count": max(e.count, 1),
            "episodes": max(e.episodes, 1),
            "status": "firing" if e.status == "firing" else "resolved",
            "service": e.service,
            "labels": e.labels,
        }
    )


def _kinds(entries: list[DigestEntry]) -> list[tuple[str, int, list[str]]]:
    """(alert name, episodes, services) per kind, the noisiest first."""
    episodes: Counter[str] = Counter()
    where: dict[str, set[str]] = {}
    for e in entries:
        name = e.labels.get("alertname", "unnamed")
        episodes[name] += max(e.episodes, 1)
        where.setdefault(name, set()).add(e.service or "unknown service")
    noisiest = sorted(episodes.items(), key=lambda x: (-x[1], x[0]))
    return [(n, c, sorted(where[n])) for n, c in noisiest]


def summary(entries: list[DigestEntry], services: list[str]) -> str:
    """What a person reads: how many lone alerts, of which kinds, where."""
    kinds = _kinds(entries)
    firing = sum(1 for e in entries if e.status == "firing" and not e.incident_id)
    taken = sum(1 for e in entries if e.incident_id)
    more = f" and {len(services) - 5} more" if len(services) > 5 else ""
    where = ", ".join(services[:5]) + more
    text = (
        f"Noise digest: {len(entries)} lone alert{'s' * (len(entries) != 1)} ({firing} firing)"
        f" of {len(kinds)} kind{'s' * (len(kinds) != 1)} on {where or 'unknown services'},"
        + _UNRELATED
    )
    if taken:
        text += f" ({taken} since taken by an incident)"
    lines = [f"{n} x{c} ({', '.join(s[:3])}{', ...' if len(s) > 3 else ''})" for n, c, s in kinds]
    return f"{text}: {'; '.join(lines[:5])}" + ("; ..." if len(lines) > 5 else "")


def listed_kinds(text: str) -> str:
    """The kinds a digest's :func:`summary` lists, without its counts: "DiskLow x3 (db); ..."."""
    return text.partition(_UNRELATED)[2].partition(": ")[2]


def _recommendations(entries: list[DigestEntry]) -> list[str]:
    """Rules worth a review: three or more episodes that stayed alone.

    An alert an incident later took counts apart: that rule did find something once.
    """
    taken = {n: c for n, c, _ in _kinds([e for e in entries if e.incident_id])}
    lone = _kinds([e for e in entries if not e.incident_id])
    out = []
    for n, c, _ in [k for k in lone if k[1] >= 3][:3]:
        part = f"{taken[n]} more part of an incident" if n in taken else "none part of an incident"
        out.append(f"Review rule {n}: {c} lone episodes, {part}.")
    return out
