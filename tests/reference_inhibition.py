"""Learned inhibition as it was before it was indexed: a reference for equality tests.

Every start paired with every buffered start within a window, and rules were found
by asking every kind. ``tests/test_inhibition_index.py`` checks the indexed
``LearnedInhibition`` keeps exactly its state while ``max_partners`` is not hit.
"""

from bisect import bisect_left, insort
from collections import OrderedDict

from alertflow.operators.correlation.inhibition import InhibitionSettings, _Kind, _Pair
from alertflow.schemas.timefmt import NS_PER_S


class ReferenceInhibition:
    """The pre-index ``LearnedInhibition`` (commit cace9e1), unchanged but for its name."""

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
