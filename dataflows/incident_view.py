"""The current incidents: the last version per ``incident_id``, as a table, JSON or a file.

``incidents.jsonl`` keeps every version an incident went through; this is the
view an on-call engineer wants, and what a log-compacted Kafka topic keyed by
incident id converges to.
"""

import os
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from alertflow.dataflows.uris import parse_location
from alertflow.schemas import jsoncodec
from alertflow.schemas.config import ConfigError
from alertflow.schemas.errors import DecodeError

CURRENT_FILE = "incidents.current.jsonl"
_PAGE_KINDS = ("incident_opened", "incident_escalated")


def _run_without_incidents(target: Path) -> bool:
    """A run's output directory (it has other streams) in which no incident was written."""
    if not target.is_dir():
        return False
    if any((target / name).is_file() for name in ("incidents.jsonl", CURRENT_FILE)):
        return False
    return any((target / f"{stream}.jsonl").is_file()
               for stream in ("anomalies", "notifications", "dlq", "scores"))


def incidents_file(target: Path) -> Path:
    """The versions file for a run's output directory, or ``target`` itself."""
    if target.is_dir():
        for name in ("incidents.jsonl", CURRENT_FILE):
            if (target / name).is_file():
                return target / name
        raise ConfigError(f"{target} holds no incidents.jsonl (is it an alertflow run's --output?)")
    if not target.is_file():
        raise ConfigError(f"{target} does not exist")
    return target


def current_lines(path: Path) -> dict[str, bytes]:
    """The raw line of the highest version of each incident, in order of first appearance."""
    return latest_versions(path.read_bytes().splitlines(), str(path))


def latest_versions(lines: Iterable[bytes], source: str) -> dict[str, bytes]:
    """Of incident versions (JSON, one each), the highest version of each incident."""
    latest: dict[str, tuple[int, bytes]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = jsoncodec.loads(line)
            incident_id, version = record["incident_id"], int(record["version"])
        except (DecodeError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{source}:{number}: not an incident version ({exc})") from None
        if incident_id not in latest or version >= latest[incident_id][0]:
            latest[incident_id] = (version, line)
    return {incident_id: line for incident_id, (_, line) in latest.items()}


def _by_opening(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    records = [jsoncodec.loads(line) for line in lines]
    return sorted(records, key=lambda r: (r["opened_at"], r["incident_id"]))


def current_incidents(path: Path) -> list[dict[str, Any]]:
    """The current state of every incident in a versions file, oldest opened first."""
    return _by_opening(current_lines(path).values())


def write_current(out_dir: Path) -> Path | None:
    """Write ``incidents.current.jsonl`` next to ``incidents.jsonl``; None when there is none."""
    source = out_dir / "incidents.jsonl"
    target = out_dir / CURRENT_FILE
    if not source.is_file():
        target.unlink(missing_ok=True)  # an earlier run's view would be stale
        return None
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(b"".join(line + b"\n" for line in current_lines(source).values()))
    os.replace(tmp, target)
    return target


def pages_per_incident(out_dir: Path) -> Counter[str]:
    """Opened and escalated notifications per incident id, from ``notifications.jsonl``."""
    path = out_dir / "notifications.jsonl"
    return count_pages(path.read_bytes().splitlines() if path.is_file() else [])


def count_pages(notifications: Iterable[bytes]) -> Counter[str]:
    """Opened and escalated notifications per incident id."""
    pages: Counter[str] = Counter()
    for line in notifications:
        if line.strip():
            note = jsoncodec.loads(line)
            if note.get("kind") in _PAGE_KINDS:
                pages[note["incident_id"]] += 1
    return pages


def duration(incident: dict[str, Any]) -> str:
    """Opened to resolved (or to the last update while open), as ``1h05m`` or ``7m``."""
    end = incident.get("resolved_at") or incident["updated_at"]
    seconds = int((_time(end) - _time(incident["opened_at"])).total_seconds())
    hours, minutes = divmod(max(seconds, 0) // 60, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def top_cause(incident: dict[str, Any]) -> str:
    """The top-ranked root cause's service, or ``-``."""
    causes = incident.get("root_causes") or []
    return causes[0]["service"] if causes else "-"


def table(
    incidents: list[dict[str, Any]], pages: Counter[str], width: int | None = None
) -> list[str]:
    """Two lines per incident: its figures, then its top cause with the evidence.

    The figures are id, status, severity, opened, duration, members, pages and
    services; the cause line is cut to ``width`` when given.
    """
    lines = [
        f"{'ID':8}  {'STATUS':8} {'SEVERITY':8} {'OPENED':19} {'LASTED':>6} "
        f"{'MEMBERS':>7} {'PAGES':>5}  SERVICES"
    ]
    for inc in incidents:
        lines.append(
            f"{inc['incident_id'][:8]}  {inc['status']:8} {inc['severity']:8} "
            f"{inc['opened_at'][:19]:19} {duration(inc):>6} {len(inc['members']):7d} "
            f"{pages[inc['incident_id']]:5d}  {', '.join(inc['services'])}"
        )
        cause = _second_line(inc)
        lines.append(cause if width is None or len(cause) <= width else cause[: width - 3] + "...")
    return lines


def _second_line(inc: dict[str, Any]) -> str:
    """An incident's top cause with its evidence; a noise digest's summary (it ranks none)."""
    if inc.get("kind") == "noise":
        return f"          {inc['summary']}"
    causes = inc.get("root_causes") or []
    if not causes:
        return "          no ranked cause"
    top = causes[0]
    return f"          top cause {top['service']} ({top['score']:.2f}): " + "; ".join(
        top["evidence"]
    )


def print_incidents(target: str, as_json: bool = False, out: TextIO | None = None) -> None:
    """``alertflow incidents``: the current incidents of a run's output directory, file or topic."""
    out = out or sys.stdout
    location = parse_location(target)
    if isinstance(location, Path):
        if _run_without_incidents(location):
            if not as_json:
                out.write(f"no incidents: the run that wrote {location} found none\n")
            return
        path = incidents_file(location)
        latest = current_lines(path)
        pages = pages_per_incident(path.parent)
        source = str(path)
    else:
        from alertflow.dataflows.incident_topic import read_incidents_topic

        versions, notifications, source = read_incidents_topic(location)
        latest = latest_versions(versions, source)
        pages = count_pages(notifications)
    if as_json:
        for line in latest.values():
            out.write(line.decode() + "\n")
        return
    try:
        incidents = _by_opening(latest.values())
        rows = table(incidents, pages)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        # An incident_id and a version are not yet an incident: say so, not a traceback.
        raise ConfigError(f"{source}: not an alertflow incident version ({exc!r})") from None
    for line in rows:
        out.write(line + "\n")
    noise = sum(1 for inc in incidents if inc.get("kind") == "noise")
    digests = f" and {noise} noise digest(s)" if noise else ""
    out.write(f"{len(incidents) - noise} incident(s){digests}, current versions of {source}\n")
