"""Writing the simulated telemetry: JSON lines per stream and the ground truth document."""

from collections.abc import Iterable
from pathlib import Path

from alertflow.operators.simulate.alerts import AlertEpisode
from alertflow.operators.simulate.config import NS_PER_S, SimulationConfig, rfc3339_ms
from alertflow.operators.simulate.faults import Incident
from alertflow.operators.simulate.topology import Topology
from alertflow.schemas.jsoncodec import dumps


def write_jsonl(path: Path, records: Iterable[object]) -> int:
    """Write one compact JSON document per line; return how many were written."""
    count = 0
    with path.open("wb") as sink:
        for record in records:
            sink.write(dumps(record))
            sink.write(b"\n")
            count += 1
    return count


def _first_seen(episodes: list[AlertEpisode]) -> list[str]:
    """Distinct fingerprints in the order they first fired."""
    return list(dict.fromkeys(episode.fingerprint for episode in episodes))


def _episodes(episodes: list[AlertEpisode]) -> list[list[str]]:
    """Distinct ``[fingerprint, startsAt]`` pairs in the order they fired.

    The simulator re-uses a fingerprint (one alert name on one service) for episodes of
    different faults hours apart; an episode, not a fingerprint, belongs to a fault.
    """
    keys = dict.fromkeys((e.fingerprint, rfc3339_ms(e.starts_ns)) for e in episodes)
    return [list(key) for key in keys]


def ground_truth(
    cfg: SimulationConfig,
    topo: Topology,
    incidents: list[Incident],
    episodes: list[AlertEpisode],
) -> dict[str, object]:
    """What really happened, for scoring correlation and root-cause ranking."""
    noisy = [e for e in episodes if not e.incident_ids]
    return {
        "seed": cfg.seed,
        "start": rfc3339_ms(cfg.start_ns),
        "end": rfc3339_ms(cfg.end_ns),
        "step_s": cfg.step_s,
        "clusters": list(topo.clusters),
        "services": topo.names,
        "edges": [list(edge) for edge in topo.edges],
        "incidents": [
            {
                "id": incident.id,
                "root_cause": incident.root,
                "fault": incident.fault,
                "start": rfc3339_ms(incident.start_ns),
                "end": rfc3339_ms(incident.end_ns),
                "affected_services": incident.affected,
                "alert_fingerprints": _first_seen(
                    [e for e in episodes if incident.id in e.incident_ids]
                ),
                # Episodes this fault explains best (an episode's first incident_id), and
                # those that overlapping faults explain as well or better: one episode is in
                # one incident however many faults it is part of.
                "alert_episodes": _episodes(
                    [e for e in episodes if e.incident_ids[:1] == (incident.id,)]
                ),
                "shared_episodes": _episodes(
                    [e for e in episodes if incident.id in e.incident_ids[1:]]
                ),
                "cluster": incident.cluster,
                "propagation": [
                    {
                        "service": hop.service,
                        "hops": hop.hops,
                        "via": hop.via,
                        "delay_s": hop.delay_ns // NS_PER_S,
                        "strength": round(hop.strength, 3),
                    }
                    for hop in incident.hops
                ],
            }
            for incident in incidents
        ],
        "noise_alert_fingerprints": _first_seen(noisy),
        "noise_alert_episodes": _episodes(noisy),
    }


def write_json(path: Path, document: object) -> None:
    """Write one JSON document followed by a newline."""
    path.write_bytes(dumps(document) + b"\n")
