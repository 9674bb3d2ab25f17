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
domains. A start pairs with at most ``max_partners`` kinds on each side: before it,
the kinds that started last (ties: the greater name), after it the first to start.
In a storm of more kinds than that within one window, an occasion says little of
what follows what, and pairing every kind would cost O(kinds) a start (issue 10:
a thousand alert kinds open at 10,000 alerts/s). ``observe`` then costs
O(max_partners log n), or O(kinds buffered) where many starts of few kinds fill the
window: each kind's starts are kept apart and counted by bisection. Rules are found
from the symptom's side (``causes_of``), among causes whose pair has ``min_support``.

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

from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from dataclasses import dataclass, field
from heapq import nlargest

from alertflow.operators.correlation.alert_dedup import service_of
from alertflow.operators.restorable import Restorable
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
    max_partners: int = 32  # kinds a start pairs with: those that started last before it

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise InhibitionError(f"window_s: expected > 0, got {self.window_s}")
        if not 0 < self.min_confidence <= 1:
            raise InhibitionError(f"min_confidence: expected in (0, 1], got {self.min_confidence}")
        if self.min_lift < 0:
            raise InhibitionError(f"min_lift: expected >= 0, got {self.min_lift}")
        for name in ("min_support", "max_kinds", "max_followers", "max_recent", "max_partners"):
            if getattr(self, name) < 1:
                raise InhibitionError(f"{name}: expected >= 1, got {getattr(self, name)}")


# The settings a snapshot from before ``max_partners`` holds.
_OLD_SETTINGS = ("window_s", "min_support", "min_confidence", "min_lift", "max_kinds",
                 "max_followers", "max_recent")  # fmt: skip


# How often a symptom followed a cause, counted since the symptom's birth: (the symptom's
# birth these counts belong to, cause episodes followed by it, its episodes preceded by the
# cause). A plain tuple, not an object: a start makes ~32 new pairs in a storm (issue 10), and
# a tuple of ints costs a fifth of an object to make and leaves the cyclic GC's lists at once.
Pair = tuple[int, int, int]


@dataclass(slots=True)
class _Pair:
    """A pair as snapshots before ``Pair`` hold it (restored as a ``Pair``)."""

    born: int
    followed: int = 0
    preceded: int = 0

    @property
    def support(self) -> int:
        return min(self.followed, self.preceded)


@dataclass(slots=True)
class _Kind(Restorable):
    """A kind's counts since it was (last) first seen."""

    born: int  # a serial number, new each time the kind is first seen or seen again
    episodes: int = 0
    covered_ns: int = 0  # the union of the windows before its starts
    followers: dict[str, Pair] = field(default_factory=dict)  # symptom -> counts, oldest first


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
        self._index()

    def _index(self) -> None:
        """Build what ``recent`` and ``kinds`` imply: per-kind starts, rules by symptom."""
        # A live kind's buffered starts, sorted: its partners are counted by bisection.
        self.starts: dict[str, list[int]] = {}
        for start_ns, kind, born in self.recent:
            if self._alive(kind, born):
                self.starts.setdefault(kind, []).append(start_ns)
        # symptom -> causes whose pair has min_support (a dict, ordered, for stable pickles):
        # the only causes a rule can hold for, found without asking every kind.
        self.supported: dict[str, dict[str, None]] = {}
        for cause, counts in self.kinds.items():
            for symptom, (_, followed, preceded) in counts.followers.items():
                if min(followed, preceded) >= self.settings.min_support:
                    self.supported.setdefault(symptom, {})[cause] = None

    def __setstate__(self, state: dict) -> None:
        """A snapshot taken before the indexes existed rebuilds them."""
        self.__dict__.update(state)
        for counts in self.kinds.values():
            for symptom, pair in counts.followers.items():
                if isinstance(pair, _Pair):  # a snapshot from before ``Pair``
                    counts.followers[symptom] = (pair.born, pair.followed, pair.preceded)
        if not hasattr(self.settings, "max_partners"):
            self.settings = InhibitionSettings(
                **{k: getattr(self.settings, k) for k in _OLD_SETTINGS}
            )
        if "starts" not in state or "supported" not in state:
            self._index()

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
        mine = self.starts.setdefault(kind, [])
        at = bisect_right(mine, starts_ns)
        before = mine[at - 1] if at and mine[at - 1] >= starts_ns - window else None
        after = mine[at] if at < len(mine) and mine[at] <= starts_ns + window else None
        self._cover(this, starts_ns, before, after)
        self._causes(kind, this.born, starts_ns, before, after)
        self._followers(kind, this, starts_ns, before, after)
        insort(mine, starts_ns)
        recent = self.recent
        insort(recent, (starts_ns, kind, this.born))
        cut = bisect_left(recent, (self.newest_ns - 2 * window,))
        cut = max(cut, len(recent) - self.settings.max_recent)
        for old_ns, old, born in recent[:cut]:
            if self._alive(old, born):
                theirs = self.starts[old]
                del theirs[bisect_left(theirs, old_ns)]
                if not theirs:
                    del self.starts[old]
        del recent[:cut]

    def _causes(
        self, kind: str, born: int, starts_ns: int, before: int | None, after: int | None
    ) -> None:
        """Count the new start as following the kinds that started in the window before it.

        Each is one occasion for the new start however often it started; each of its
        episodes is followed by this kind unless another start of this kind lies in
        ``(episode, episode + window]``: counted per kind by bisection. At most
        ``max_partners`` kinds, those that started last: see the module's docstring.
        """
        # Episodes not yet followed by this kind: in [before, after - window), in the window.
        window = self.window_ns
        low = starts_ns - window if before is None else max(starts_ns - window, before)
        high = starts_ns if after is None else min(starts_ns, after - window)
        starts, least = self.starts, self.settings.min_support
        room = self.settings.max_followers
        for other, counts in self._partners_before(kind, starts_ns).items():
            theirs = starts[other]
            if len(theirs) == 1:  # mostly: one start buffered, no bisection needed
                fresh = 1 if low <= theirs[0] < high else 0
            else:
                fresh = bisect_left(theirs, high) - bisect_left(theirs, low)
                fresh = fresh if fresh > 0 else 0
            # _count inline: ~32 pairs a start, the hot loop of issue 10's storm.
            followers = counts.followers
            pair = followers.get(kind)
            if pair is not None and pair[0] == born:
                followed, preceded = pair[1] + fresh, pair[2] + 1
                followers[kind] = (born, followed, preceded)  # in place: keeps its age
            elif pair is None and len(followers) < room:
                followers[kind] = (born, fresh, 1)
                followed, preceded = fresh, 1
            else:
                _, followed, preceded = self._new_pair(other, followers, kind, born, fresh, 1)
            if followed >= least and preceded >= least:
                self.supported.setdefault(kind, {})[other] = None

    def _partners_before(self, kind: str, starts_ns: int) -> dict[str, _Kind]:
        """The ``max_partners`` other kinds that started last in the window before a start.

        Ordered by their latest start there, then the greater name; each with its counts.
        Found walking the buffer back from the start, unless that steps over many starts
        of few kinds: then from each kind's own starts.
        """
        recent, room, kinds = self.recent, self.settings.max_partners, self.kinds
        lo = bisect_left(recent, (starts_ns - self.window_ns,))
        i = bisect_left(recent, (starts_ns,))
        found: dict[str, _Kind] = {}
        stop = max(lo, i - 4 * room)  # at most 4 x room steps back
        for _, other, other_born in reversed(recent[stop:i]):
            if other == kind or other in found:
                continue
            counts = kinds.get(other)  # alive: not forgotten since
            if counts is not None and counts.born == other_born:
                found[other] = counts
                if len(found) == room:
                    return found
        if stop == lo:
            return found  # the whole window walked
        latest = []
        for other, theirs in self.starts.items():
            j = bisect_left(theirs, starts_ns)
            if other != kind and j and theirs[j - 1] >= starts_ns - self.window_ns:
                latest.append((theirs[j - 1], other))
        return {other: kinds[other] for _, other in nlargest(room, latest)}

    def _followers(
        self, kind: str, this: _Kind, starts_ns: int, before: int | None, after: int | None
    ) -> None:
        """Count the kinds that started in the window after a late start as following it."""
        window, recent = self.window_ns, self.recent
        i = bisect_left(recent, (starts_ns + 1,))
        hi = bisect_left(recent, (starts_ns + window + 1,))
        followers: set[str] = set()
        for other_ns, other, other_born in recent[i:hi]:
            if other == kind or not self._alive(other, other_born):
                continue
            if other not in followers and len(followers) >= self.settings.max_partners:
                continue
            # ... preceded by it already if one lies in [other_ns - window, other_ns)
            done = (before is not None and before >= other_ns - window) or (
                after is not None and after < other_ns
            )
            self._count(this, kind, other, other_born, other not in followers, not done)
            followers.add(other)

    def causes_of(self, symptom: str) -> list[str]:
        """The kinds whose rule makes ``symptom`` follow them: ``explains`` is not None."""
        causes = self.supported.get(symptom, ())
        return [cause for cause in causes if self._judge(cause, symptom) is not None]

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
        followed = counts.followers[symptom][1]
        return f"learned: {symptom} followed {cause} in {followed} of {counts.episodes} episodes"

    def base_rate(self, kind: str) -> float:
        """The share of ``window_s`` windows ``kind`` starts in, whatever else fires."""
        counts = self.kinds.get(kind)
        if counts is None or self.first_ns is None or self.newest_ns is None:
            return 0.0
        span = max(self.newest_ns - self.first_ns, self.window_ns)
        return min(1.0, counts.covered_ns / span)

    def _alive(self, kind: str, born: int) -> bool:
        counts = self.kinds.get(kind)
        return counts is not None and counts.born == born

    def _judge(self, cause: str, symptom: str) -> tuple[int, float] | None:
        counts = self.kinds.get(cause)
        pair = None if counts is None else counts.followers.get(symptom)
        if counts is None or pair is None or not self._alive(symptom, pair[0]):
            return None
        _, followed, preceded = pair
        support = min(followed, preceded)
        if support < self.settings.min_support:
            return None
        confidence = followed / counts.episodes
        if confidence < self.settings.min_confidence:
            return None
        if confidence < self.settings.min_lift * self.base_rate(symptom):
            return None
        return support, confidence

    def _seen(self, kind: str) -> _Kind:
        counts = self.kinds.pop(kind, None)
        if counts is None:
            self.births += 1
            counts = _Kind(self.births)
        counts.episodes += 1
        self.kinds[kind] = counts
        while len(self.kinds) > self.settings.max_kinds:
            # Its pairs as a symptom die with its birth; as a cause, with it.
            gone, was = self.kinds.popitem(last=False)
            self.starts.pop(gone, None)
            for symptom in was.followers:
                self._unsupport(gone, symptom)
        return counts

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

    def _count(
        self, cause: _Kind, name: str, symptom: str, born: int, followed: int, preceded: bool
    ) -> None:
        """Count cause episodes followed by ``symptom`` and/or a symptom episode preceded.

        A new pair needs room: the weaker half is forgotten at once, so making room
        costs O(log max_followers) a pair, amortised.
        """
        if not (followed or preceded):
            return
        followers = cause.followers
        pair = followers.get(symptom)
        if pair is None or pair[0] != born:
            pair = self._new_pair(name, followers, symptom, born, int(followed), int(preceded))
        else:
            pair = followers[symptom] = (born, pair[1] + followed, pair[2] + preceded)
        least = self.settings.min_support
        if pair[1] >= least and pair[2] >= least:
            self.supported.setdefault(symptom, {})[name] = None

    def _new_pair(
        self, cause: str, followers: dict[str, Pair], symptom: str, born: int, *counts: int
    ) -> Pair:
        """A pair of the symptom's ``born`` with its first ``counts``, where it found room."""
        if symptom in followers:
            del followers[symptom]  # counts from a forgotten namesake
            self._unsupport(cause, symptom)
        elif len(followers) >= self.settings.max_followers:
            self._make_room(cause, followers)
        pair = followers[symptom] = (born, *counts)
        return pair

    def _unsupport(self, cause: str, symptom: str) -> None:
        causes = self.supported.get(symptom)
        if causes is not None and causes.pop(cause, 0) is None and not causes:
            del self.supported[symptom]

    def _make_room(self, cause: str, followers: dict[str, Pair]) -> None:
        kinds = self.kinds
        # Dead first, then fewest occasions, then the likeliest by chance (highest base
        # rate); among equals the oldest goes first (its index in ``followers``).
        dead: list[str] = []
        alive = []
        for i, (symptom, (born, followed, preceded)) in enumerate(followers.items()):
            counts = kinds.get(symptom)
            if counts is not None and counts.born == born:
                least = followed if followed < preceded else preceded
                alive.append((least, followed, -counts.covered_ns, i, symptom))
            else:
                dead.append(symptom)
        drop = max(1, len(followers) // 2)
        if len(dead) < drop:
            alive.sort()
            dead.extend(key[4] for key in alive[: drop - len(dead)])
        for symptom in dead[:drop]:
            del followers[symptom]
            self._unsupport(cause, symptom)
