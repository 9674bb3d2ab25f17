"""Alertmanager webhook payloads (version 4) for alert episodes, at the times they are sent.

By default grouping is by alertname, cluster and service, so each payload carries one
alert. A group is first sent after ``group_wait``, re-sent every ``repeat_interval``
while it fires (same fingerprint and startsAt), and sent once more when it resolves.
With a ``group_interval`` (``Situations.group_interval_s``), grouping is by alertname
and cluster, as Alertmanager's common ``group_by``: an alert that joins a group already
notified waits for the group's next ``group_interval`` tick, and alerts sent at one tick
share a payload, so alerts arrive minutes after alerts that started later. Nothing is
sent before the simulated window starts or after it ends.
"""

from collections import defaultdict

from alertflow.operators.simulate.alerts import AlertEpisode
from alertflow.operators.simulate.config import NS_PER_S, ZERO_TIME, rfc3339_ms

GROUP_WAIT_NS = 30 * NS_PER_S
REPEAT_INTERVAL_NS = 5 * 60 * NS_PER_S
_GROUP_BY = ("alertname", "cluster", "service")
_BATCH_BY = ("alertname", "cluster")


def _after(at: int, start_ns: int, step: int) -> int:
    """The first of ``at``, ``at + step``, ... that is not before ``start_ns``."""
    return at if at >= start_ns else at + -(-(start_ns - at) // step) * step


def send_times(
    episode: AlertEpisode, end_ns: int, start_ns: int = 0, first_ns: int | None = None
) -> list[tuple[int, str]]:
    """When Alertmanager would notify about ``episode``, and with which status."""
    stop = episode.ends_ns if episode.ends_ns is not None else end_ns
    sends = []
    at = first_ns if first_ns is not None else episode.starts_ns + GROUP_WAIT_NS
    at = _after(at, start_ns, REPEAT_INTERVAL_NS)
    while at < stop and at <= end_ns:
        sends.append((at, "firing"))
        at += REPEAT_INTERVAL_NS
    if episode.ends_ns is not None and episode.ends_ns <= end_ns and sends:
        sends.append((episode.ends_ns, "resolved"))
    return sends


FirstSends = dict[tuple[str, int], int]  # (fingerprint, startsAt) -> its first send


def first_sends(episodes: list[AlertEpisode], interval_ns: int) -> FirstSends:
    """Each episode's first send when its group's new alerts wait for a tick."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, episode in enumerate(episodes):
        groups[tuple(episode.labels.get(name, "") for name in _BATCH_BY)].append(i)
    first: FirstSends = {}
    for members in groups.values():
        flush0, active_until = None, -1
        for i in sorted(members, key=lambda i: episodes[i].starts_ns):
            episode = episodes[i]
            key = (episode.fingerprint, episode.starts_ns)
            if flush0 is None or episode.starts_ns > active_until:
                flush0 = episode.starts_ns + GROUP_WAIT_NS  # the group (re)starts
                first[key] = flush0
            else:
                first[key] = _after(flush0, episode.starts_ns, interval_ns)
            stop = episode.ends_ns if episode.ends_ns is not None else 2**62
            active_until = max(active_until, stop)
    return first


def render(episodes: list[AlertEpisode], statuses: list[str]) -> dict[str, object]:
    """The webhook body Alertmanager posts for ``episodes`` (one group) in ``statuses``."""
    head = episodes[0]
    group_labels = {name: head.labels[name] for name in _GROUP_BY if name in head.labels}
    if len(episodes) > 1:
        group_labels = {name: head.labels[name] for name in _BATCH_BY if name in head.labels}
    inner = ", ".join(f'{name}="{value}"' for name, value in sorted(group_labels.items()))
    common = {k: v for k, v in head.labels.items() if all(e.labels.get(k) == v for e in episodes)}
    return {
        "version": "4",
        "groupKey": f"{{}}:{{{inner}}}",
        "truncatedAlerts": 0,
        "status": "firing" if "firing" in statuses else "resolved",
        "receiver": "alertflow",
        "groupLabels": group_labels,
        "commonLabels": common,
        "commonAnnotations": head.annotations if len(episodes) == 1 else {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": episode.labels,
                "annotations": episode.annotations,
                "startsAt": rfc3339_ms(episode.starts_ns),
                "endsAt": rfc3339_ms(episode.ends_ns)
                if status == "resolved" and episode.ends_ns is not None
                else ZERO_TIME,
                "generatorURL": episode.generator_url,
                "fingerprint": episode.fingerprint,
            }
            for episode, status in zip(episodes, statuses, strict=True)
        ],
    }


def payloads(
    episodes: list[AlertEpisode],
    end_ns: int,
    start_ns: int = 0,
    group_interval_ns: int = 0,
    first: FirstSends | None = None,
) -> list[tuple[int, dict[str, object]]]:
    """Every payload of every episode, ordered by the time it is sent."""
    if first is None:
        first = first_sends(episodes, group_interval_ns) if group_interval_ns else {}
    batches: dict[tuple, list[tuple[str, bool, AlertEpisode, str]]] = defaultdict(list)
    for episode in episodes:
        at_first = first.get((episode.fingerprint, episode.starts_ns))
        for at, status in send_times(episode, end_ns, start_ns, at_first):
            if group_interval_ns:
                key = (at, *(episode.labels.get(name, "") for name in _BATCH_BY))
            else:
                key = (at, episode.fingerprint)
            batches[key].append((episode.fingerprint, status == "resolved", episode, status))
    out = []
    for key in sorted(batches, key=lambda k: (k[0], min(b[:2] for b in batches[k]))):
        batch = sorted(batches[key], key=lambda b: b[:2])
        out.append((key[0], render([b[2] for b in batch], [b[3] for b in batch])))
    return out


def sent(
    episodes: list[AlertEpisode], end_ns: int, start_ns: int = 0, first: FirstSends | None = None
) -> list[AlertEpisode]:
    """The episodes that reach Alertmanager's receiver firing at least once.

    With batching (``first``), an alert that resolves before its group's next tick is
    never sent firing: no receiver sees it, so it is in no ground truth either.
    """
    first = first or {}
    return [
        episode
        for episode in episodes
        if send_times(
            episode, end_ns, start_ns, first.get((episode.fingerprint, episode.starts_ns))
        )
    ]
