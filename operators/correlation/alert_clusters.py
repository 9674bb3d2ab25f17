"""Online clustering of alerts by what they say, so an alert storm of one kind is one incident.

Many services firing the same kind of alert at once ("HighErrorRate" on fifteen
services) usually share a cause the call graph does not show: DNS, a network
partition, a shared database nobody traces, a bad config pushed everywhere.
Each alert is reduced to a set of words: its alert name split into words, and its
summary with the alert's own service, numbers and ids taken out. An alert joins
the most similar cluster whose representative words it shares by at least
``threshold`` (Jaccard), else it starts one: leader clustering, one pass, no
training. Clusters are keyed per correlation domain, bounded, least recently hit
evicted first, and their ids are derived from their representative words, so a
replay gives the same clusters.

>>> clusters = AlertClusters(threshold=0.6)
>>> a = clusters.assign({"alertname": "HighErrorRate", "service": "cart"},
...                     {"summary": "cart returns errors (5.2% of requests)"})
>>> b = clusters.assign({"alertname": "HighErrorRate", "service": "auth"},
...                     {"summary": "auth returns errors (12% of requests)"})
>>> c = clusters.assign({"alertname": "DiskFull", "service": "cart"}, {})
>>> a == b, a == c
(True, False)
"""

import re
from collections import OrderedDict
from functools import lru_cache

from alertflow.operators.correlation.alert_dedup import service_of
from alertflow.operators.ids import stable_id

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-\s./:]+")
_WORD = re.compile(r"[a-z][a-z]+")
# Labels that say where an alert is, not what it says: never words of its kind.
_WHERE = frozenset({"service", "service_name", "job", "app", "container", "pod", "instance",
                    "node", "cluster", "namespace", "severity", "alertname"})  # fmt: skip


def alert_words(labels: dict[str, str], annotations: dict[str, str]) -> frozenset[str]:
    """The words an alert's kind is made of: its name's words and its summary's, not where."""
    words = _name_words(labels.get("alertname", ""))
    summary = annotations.get("summary", "").lower()
    if not summary:
        return words  # the labels only take words out of a summary
    # Split like the summary is, or "checkout-service" would leave "checkout" and "service".
    own = {w for k, v in labels.items() if k in _WHERE for w in _WORD.findall(v.lower())}
    return words | {w for w in _WORD.findall(summary) if w not in own}


@lru_cache(maxsize=4096)
def _name_words(name: str) -> frozenset[str]:
    """An alert name's words (cached: a domain has few names, each alert splits one)."""
    return frozenset(w.lower() for w in _CAMEL.split(name) if len(w) > 1)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two word sets (0 when both are empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class AlertClusters:
    """One domain's clusters of alert kinds: leader clustering, bounded."""

    def __init__(self, threshold: float = 0.6, max_clusters: int = 1_000) -> None:
        self.threshold = threshold
        self.max_clusters = max_clusters
        self.leaders: OrderedDict[str, frozenset[str]] = OrderedDict()  # id -> words
        # Only clusters sharing a word can be similar: found through the words, not a scan
        # of every cluster (a thousand alert kinds open made that most of an alert's cost).
        self.by_word: dict[str, set[str]] = {}
        self.hit: dict[str, int] = {}  # when each cluster was last hit: ties go to the oldest
        self.clock = 0

    def assign(self, labels: dict[str, str], annotations: dict[str, str]) -> str:
        """The cluster id of an alert; a new cluster when none is similar enough."""
        words = alert_words(labels, annotations)
        if not words:
            # Nothing to compare: a cluster of its own, that of its service and name.
            return stable_id("alert", service_of(labels), labels.get("alertname"))
        # A cluster similar enough lacks at most (1 - threshold) of these words, so it holds
        # one of the rarest ``spare + 1``: only those clusters are compared (prefix filter).
        spare = int(len(words) * (1 - self.threshold) + 1e-9)
        by_word = self.by_word
        if spare + 1 >= len(words):
            rare = words  # every word: nothing to choose (which clusters share is a set)
        elif spare == 0:
            rare = (min(words, key=lambda w: (len(by_word.get(w, ())), w)),)
        else:
            rare = sorted(words, key=lambda w: (len(by_word.get(w, ())), w))[: spare + 1]
        sharing = {c for w in rare for c in by_word.get(w, ())}
        best, best_key = None, (self.threshold, 0)
        for cluster_id in sharing:
            sim = similarity(words, self.leaders[cluster_id])
            key = (sim, -self.hit[cluster_id])  # the least recently hit among equals
            if sim >= self.threshold and (best is None or key > best_key):
                best, best_key = cluster_id, key
        if best is None:
            best = stable_id("cluster", *sorted(words))
            self.leaders[best] = words
            for word in words:
                self.by_word.setdefault(word, set()).add(best)
            while len(self.leaders) > self.max_clusters:
                self._evict()
        self.leaders.move_to_end(best)
        self.clock += 1
        self.hit[best] = self.clock
        return best

    def _evict(self) -> None:
        """Forget the least recently hit cluster."""
        cluster_id, words = self.leaders.popitem(last=False)
        self.hit.pop(cluster_id, None)
        for word in words:
            ids = self.by_word.get(word)
            if ids is not None:
                ids.discard(cluster_id)
                if not ids:
                    del self.by_word[word]
