"""Alert clusters found through their words assign exactly what a scan of every cluster did."""

from collections import OrderedDict

from alertflow.operators.correlation.alert_clusters import AlertClusters, alert_words, similarity
from alertflow.operators.ids import stable_id
from hypothesis import given, settings
from hypothesis import strategies as st

WORDS = ("High", "Error", "Rate", "Disk", "Full", "Latency", "Pod", "Crash", "Loop", "Node")


class ScanReference:
    """The leader clustering as it was: every cluster compared, oldest first."""

    def __init__(self, threshold: float, max_clusters: int) -> None:
        self.threshold, self.max_clusters = threshold, max_clusters
        self.leaders: OrderedDict[str, frozenset[str]] = OrderedDict()

    def assign(self, labels: dict[str, str]) -> str:
        words = alert_words(labels, {})
        best, best_sim = None, self.threshold
        for cluster_id, leader in self.leaders.items():
            sim = similarity(words, leader)
            if sim >= best_sim and (best is None or sim > best_sim):
                best, best_sim = cluster_id, sim
        if best is None:
            best = stable_id("cluster", *sorted(words))
            self.leaders[best] = words
            while len(self.leaders) > self.max_clusters:
                self.leaders.popitem(last=False)
        self.leaders.move_to_end(best)
        return best


names = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    alerts=st.lists(names, min_size=1, max_size=60),
    threshold=st.sampled_from((0.3, 0.5, 0.6, 1.0)),
    bound=st.integers(1, 8),
)
def test_indexed_clusters_match_the_scan(alerts, threshold, bound):
    indexed, scan = AlertClusters(threshold, bound), ScanReference(threshold, bound)
    for name in alerts:
        labels = {"alertname": name}
        assert indexed.assign(labels, {}) == scan.assign(labels)
    assert set(indexed.leaders) == set(scan.leaders)
    assert {c for ids in indexed.by_word.values() for c in ids} == set(indexed.leaders)
