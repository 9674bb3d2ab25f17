"""Inhibit rules learned from history: alert kind B keeps starting shortly after kind A.

Alertmanager users write inhibit rules by hand ("when DBDown fires on db, inhibit
HighLatency on its callers"). Here one domain learns them from the episode starts
it sees, so a B starting while an A fires can join A's incident where the call
graph cannot tell. A kind is ``alertname@service`` (:func:`alert_kind`).

Counting. ``episodes`` counts a kind's episode starts. An A episode is *followed* by
B when a B episode starts in ``(A.start, A.start + window_s]``: strictly after, as
simultaneous starts say nothing of direction; once per A episode and B, however
many B start (a B storm after one A counts once). Likewise a B episode is
*preceded* by A. Same-kind pairs are never counted, and A -> B says nothing of
B -> A. A rule A -> B holds when all of:

- support = min(A episodes followed by B, B episodes preceded by A) >= min_support.
  The minimum counts distinct occasions: one A flapping three times before one B is
  one occasion, as is one A before a B storm; one incident never teaches a rule.
- confidence = (A episodes followed by B) / A's episodes >= min_confidence.
- lift = confidence / base rate of B >= min_lift. The base rate is the chance that a
  window of ``window_s`` placed anywhere in the span of all starts seen holds a B
  start: the length of the union of the ``window_s`` before each B start, over the
  span (at least ``window_s``), capped at 1. A storm of B within one window counts
  about once; a kind that fires all the time (a Watchdog, a flapping rule) covers
  the whole span, so it is never a symptom, and as a cause few of its many episodes
  are followed by any one kind.

Order. Starts wait in a buffer sorted by start time, within ``2 * window_s`` of the
newest, so a start arriving up to ``window_s`` late still meets every partner:
counts are exact whatever order starts within ``window_s`` of each other arrive
in. A start more than ``window_s`` older than the newest is ignored, and counted in
``late``. The newest episodes' windows are still open, so confidence lags by them.

Bounds. Kinds are forgotten least recently seen first (``max_kinds``), with their
counts as cause; as symptom lazily: a kind seen again is born anew, and whatever
is stamped with its former birth is dead. A kind keeps ``max_followers`` symptoms:
when a new one finds no room, the weaker half (fewest occasions, then highest base
rate, then oldest) is forgotten. The buffer keeps ``max_recent`` starts, oldest
dropped. Counts are exact until a bound is hit; what is forgotten counts again
from zero. Where more kinds than ``max_followers`` follow a cause between two of
its occasions with B, A -> B may never reach its support: raise the bound for busy
domains. ``observe`` costs O(starts within ``window_s`` of it).

>>> rules = LearnedInhibition(InhibitionSettings(window_s=300))
>>> for hour in range(6):
...     rules.observe("DBDown@db", hour * 3600 * NS_PER_S)
...     if hour != 2:  # once, nothing followed
...         rules.observe("HighLatency@api", (hour * 3600 + 40) * NS_PER_S)
>>> rules.explains("DBDown@db", "HighLatency@api"), rules.explains("HighLatency@api", "DBDown@db")
(0.8333333333333334, None)
>>> rules.evidence("DBDown@db", "HighLatency@api")
'learned: HighLatency@api followed DBDown@db in 5 of 6 episodes'
"""

from bisect import bisect_left, insort
from collections import OrderedDict
from dataclasses import dataclass, field

from alertflow.operators.correlation.alert_dedup import service_of
from alertflow.schemas.errors import AlertflowError
from alertflow.schemas.timefmt import NS_PER_S


class InhibitionError(AlertflowError, ValueError):
    """Inhibition settings out of range."""


@dataclass(frozen=True, slots=True)
class InhibitionSettings:
    """What makes "B follows A" a rule, and how much is remembered."""

    window_s: float = 300.0  # B follows A if B starts within this after A started
    min_support: int = 3  # distinct occasions of A then B before the rule is used
    min_confidence: float = 0.6  # share of A's episodes followed by B
    min_lift: float = 2.0  # confidence over B's base rate: B is not just frequent
    max_kinds: int = 2000  # kinds remembered per domain (least recently seen forgotten)
    max_followers: int = 32  # symptoms remembered per kind (weakest forgotten)
    max_recent: int = 4096  # starts buffered for pairing (oldest dropped)

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise InhibitionError(f"window_s: expected > 0, got {self.window_s}")
        if not 0 < self.min_confidence <= 1:
            raise InhibitionError(f"min_confidence: expected in (0, 1], got {self.min_confidence}")
        if self.min_lift < 0:
            raise InhibitionError(f"min_lift: expected >= 0, got {self.min_lift}")
        for name in ("min_support", "max_kinds", "max_followers", "max_recent"):
            if getattr(self, name) < 1:
                raise InhibitionError(f"{name}: expected >= 1, got {getattr(self, name)}")


@dataclass(slots=True)
class _Pair:
    """How often a symptom followed a cause, counted since the symptom's birth."""

    born: int  # the symptom's birth these counts belong to
    followed: int = 0  # cause episodes followed by the symptom
    preceded: int = 0  # symptom episodes preceded by the cause

    @property
    def support(self) -> int:
        return min(self.followed, self.preceded)


@dataclass(slots=True)
class _Kind:
    """A kind's counts since it was (last) first seen."""

    born: int  # a serial number, new each time the kind is first seen or seen again
    episodes: int = 0
    covered_ns: int = 0  # the union of the windows before its starts
    followers: dict[str, _Pair] = field(default_factory=dict)  # symptom -> counts, oldest first


def alert_kind(labels: dict[str, str]) -> str:
    """The kind rules are learned over: ``alertname@service``, or the alertname alone.

    >>> alert_kind({"alertname": "DBDown", "job": "db"}), alert_kind({"alertname": "Watchdog"})
    ('DBDown@db', 'Watchdog')
    """
    name = labels.get("alertname", "")
    service = service_of(labels)
    return f"{name}@{service}" if service else name


class LearnedInhibition:
    """One domain's learned "B follows A" rules."""

    def __init__(self, settings: InhibitionSettings | None = None) -> None:
        self.settings = settings or InhibitionSettings()
        self.window_ns = int(self.settings.window_s * NS_PER_S)
        self.kinds: OrderedDict[str, _Kind] = OrderedDict()  # least recently seen first
        self.births = 0
        self.recent: list[tuple[int, str, int]] = []  # (starts_ns, kind, its birth), sorted
        self.first_ns: int | None = None
        self.newest_ns: int | None = None
        self.late = 0  # starts ignored for arriving more than window_s late

    def observe(self, kind: str, starts_ns: int) -> None:
        """An alert episode of ``kind`` started: call once per episode start.

        Mostly in event-time order; a start up to ``window_s`` late is counted exactly.
        """
        window = self.window_ns
        if self.newest_ns is not None and starts_ns < self.newest_ns - window:
            self.late += 1
            return
        this = self._seen(kind)
        self.first_ns = starts_ns if self.first_ns is None else min(self.first_ns, starts_ns)
        self.newest_ns = starts_ns if self.newest_ns is None else max(self.newest_ns, starts_ns)
        before, after, others = self._around(this, starts_ns)
        self._cover(this, starts_ns, before, after)
        # What the new start adds to an older start's counts follows from where this
        # kind's other starts lie (before, after): no set per buffered start is kept.
        causes: set[str] = set()  # kinds counted as preceding the new start
        followers: set[str] = set()  # kinds counted as following it
        for other_ns, other, counts in others:
            if other_ns < starts_ns:
                # That episode was followed by this kind already if another start of it
                # lies in (other_ns, other_ns + window].
                done = (before is not None and before > other_ns) or (
                    after is not None and after <= other_ns + window
                )
                self._count(counts, kind, this.born, not done, other not in causes)
                causes.add(other)
            else:  # ... preceded by it already if one lies in [other_ns - window, other_ns)
                done = (before is not None and before >= other_ns - window) or (
                    after is not None and after < other_ns
                )
                self._count(this, other, counts.born, other not in followers, not done)
                followers.add(other)
        recent = self.recent
        insort(recent, (starts_ns, kind, this.born))
        del recent[: bisect_left(recent, (self.newest_ns - 2 * window,))]
        del recent[: max(0, len(recent) - self.settings.max_recent)]

    def explains(self, cause: str, symptom: str) -> float | None:
        """Confidence that ``symptom`` follows ``cause`` when the rule holds, else None."""
        judged = self._judge(cause, symptom)
        return None if judged is None else judged[1]

    def rules(self, limit: int = 20) -> list[tuple[str, str, int, float]]:
        """(cause, symptom, support, confidence) of the rules that hold, strongest first."""
        found = [
            (cause, symptom, *judged)
            for cause, counts in self.kinds.items()
            for symptom in counts.followers
            if (judged := self._judge(cause, symptom)) is not None
        ]
        found.sort(key=lambda r: (-r[3], -r[2], r[0], r[1]))
        return found[:limit]

    def evidence(self, cause: str, symptom: str) -> str | None:
        """The rule in words, for an incident's evidence; None when it does not hold."""
        if self._judge(cause, symptom) is None:
            return None
        counts = self.kinds[cause]
        followed = counts.followers[symptom].followed
        return f"learned: {symptom} followed {cause} in {followed} of {counts.episodes} episodes"

    def base_rate(self, kind: str) -> float:
        """The share of ``window_s`` windows ``kind`` starts in, whatever else fires."""
        counts = self.kinds.get(kind)
        if counts is None or self.first_ns is None or self.newest_ns is None:
            return 0.0
        span = max(self.newest_ns - self.first_ns, self.window_ns)
        return min(1.0, counts.covered_ns / span)

    def _live(self, pair: _Pair, symptom: str) -> bool:
        counts = self.kinds.get(symptom)
        return counts is not None and counts.born == pair.born

    def _judge(self, cause: str, symptom: str) -> tuple[int, float] | None:
        counts = self.kinds.get(cause)
        pair = None if counts is None else counts.followers.get(symptom)
        if counts is None or pair is None or not self._live(pair, symptom):
            return None
        if pair.support < self.settings.min_support:
            return None
        confidence = pair.followed / counts.episodes
        if confidence < self.settings.min_confidence:
            return None
        if confidence < self.settings.min_lift * self.base_rate(symptom):
            return None
        return pair.support, confidence

    def _seen(self, kind: str) -> _Kind:
        counts = self.kinds.pop(kind, None)
        if counts is None:
            self.births += 1
            counts = _Kind(self.births)
        counts.episodes += 1
        self.kinds[kind] = counts
        while len(self.kinds) > self.settings.max_kinds:
            self.kinds.popitem(last=False)  # its pairs as a symptom die with its birth
        return counts

    def _around(
        self, this: _Kind, starts_ns: int
    ) -> tuple[int | None, int | None, list[tuple[int, str, _Kind]]]:
        """Its kind's nearest starts before (or at) and after a start, within a window.

        And the other kinds' starts within a window, but those at the same instant.
        """
        window, kinds = self.window_ns, self.kinds
        before = after = None
        others = []
        lo = bisect_left(self.recent, (starts_ns - window,))
        hi = bisect_left(self.recent, (starts_ns + window + 1,))
        for other_ns, other, born in self.recent[lo:hi]:
            counts = kinds.get(other)
            if counts is None or counts.born != born:
                continue  # its kind was forgotten since
            if counts is this:
                if other_ns <= starts_ns:
                    before = other_ns
                elif after is None:
                    after = other_ns
            elif other_ns != starts_ns:  # starting together says nothing of direction
                others.append((other_ns, other, counts))
        return before, after, others

    def _cover(self, counts: _Kind, starts_ns: int, before: int | None, after: int | None) -> None:
        """Add a start's window to its kind's union of windows.

        It adds the gap to the start before, at most a window, less what it takes from
        the window of the start after.
        """
        window = self.window_ns
        gain = window if before is None else min(window, starts_ns - before)
        if after is not None:
            was = window if before is None else min(window, after - before)
            gain += min(window, after - starts_ns) - was
        counts.covered_ns += gain

    def _count(self, cause: _Kind, symptom: str, born: int, followed: bool, preceded: bool) -> None:
        """Count a cause episode followed by ``symptom`` and/or a symptom episode preceded.

        A new pair needs room: the weaker half is forgotten at once, so making room
        costs O(log max_followers) a pair, amortised.
        """
        if not (followed or preceded):
            return
        followers = cause.followers
        pair = followers.get(symptom)
        if pair is None or pair.born != born:
            if pair is not None:
                del followers[symptom]  # counts from a forgotten namesake
            elif len(followers) >= self.settings.max_followers:
                self._make_room(followers)
            pair = followers[symptom] = _Pair(born)
        pair.followed += followed
        pair.preceded += preceded

    def _make_room(self, followers: dict[str, _Pair]) -> None:
        kinds = self.kinds

        def strength(item: tuple[str, _Pair]) -> tuple[bool, int, int, int]:
            # Dead first, then fewest occasions, then the likeliest by chance (highest
            # base rate); the sort is stable, so among equals the oldest goes first.
            symptom, pair = item
            counts = kinds.get(symptom)
            if counts is None or counts.born != pair.born:
                return False, 0, 0, 0
            return True, min(pair.followed, pair.preceded), pair.followed, -counts.covered_ns

        for weak, _ in sorted(followers.items(), key=strength)[: max(1, len(followers) // 2)]:
            del followers[weak]
