"""Alertmanager webhook payloads (version 4) for alert episodes, at the times they are sent.

Grouping is by alertname, cluster and service, so each payload carries one
alert. A group is first sent after ``group_wait``, re-sent every
``repeat_interval`` while it fires (same fingerprint and startsAt), and sent
once more when it resolves. Nothing is sent after the simulated window ends.
"""

from operators.simulate.alerts import AlertEpisode
from operators.simulate.config import NS_PER_S, ZERO_TIME, rfc3339_ms

GROUP_WAIT_NS = 30 * NS_PER_S
REPEAT_INTERVAL_NS = 5 * 60 * NS_PER_S
_GROUP_BY = ("alertname", "cluster", "service")


def send_times(episode: AlertEpisode, end_ns: int) -> list[tuple[int, str]]:
    """When Alertmanager would notify about ``episode``, and with which status."""
    stop = episode.ends_ns if episode.ends_ns is not None else end_ns
    sends = []
    at = episode.starts_ns + GROUP_WAIT_NS
    while at < stop and at <= end_ns:
        sends.append((at, "firing"))
        at += REPEAT_INTERVAL_NS
    if episode.ends_ns is not None and episode.ends_ns <= end_ns and sends:
        sends.append((episode.ends_ns, "resolved"))
    return sends


def render(episode: AlertEpisode, status: str) -> dict[str, object]:
    """The webhook body Alertmanager posts for ``episode`` in ``status``."""
    group_labels = {name: episode.labels[name] for name in _GROUP_BY}
    inner = ", ".join(f'{name}="{value}"' for name, value in sorted(group_labels.items()))
    ends = ZERO_TIME
    if status == "resolved" and episode.ends_ns is not None:
        ends = rfc3339_ms(episode.ends_ns)
    return {
        "version": "4",
        "groupKey": f"{{}}:{{{inner}}}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "alertflow",
        "groupLabels": group_labels,
        "commonLabels": episode.labels,
        "commonAnnotations": episode.annotations,
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": episode.labels,
                "annotations": episode.annotations,
                "startsAt": rfc3339_ms(episode.starts_ns),
                "endsAt": ends,
                "generatorURL": episode.generator_url,
                "fingerprint": episode.fingerprint,
            }
        ],
    }


def payloads(episodes: list[AlertEpisode], end_ns: int) -> list[tuple[int, dict[str, object]]]:
    """Every payload of every episode, ordered by the time it is sent."""
    timed = []
    for episode in episodes:
        for at, status in send_times(episode, end_ns):
            timed.append((at, episode.fingerprint, status == "resolved", render(episode, status)))
    timed.sort(key=lambda item: item[:3])
    return [(at, body) for at, _, _, body in timed]


def sent(episodes: list[AlertEpisode], end_ns: int) -> list[AlertEpisode]:
    """The episodes that reach Alertmanager's receiver at least once."""
    return [episode for episode in episodes if send_times(episode, end_ns)]
