"""What ``alertflow demo`` shows after the run: pages in time order, incidents, a strict score.

Everything here reads the run's output files and the simulation's ground truth,
so the report shows what a consumer of the outputs would see, in event time.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alertflow.dataflows.incident_view import pages_per_incident, top_cause
from alertflow.schemas import jsoncodec

_KIND_WORD = {
    "incident_opened": "OPENED",
    "incident_escalated": "ESCALATED",
    "incident_resolved": "RESOLVED",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the timeline: a notification, or a change of the top cause after a page."""

    ts: str
    what: str
    incident_id: str
    text: str


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL output file; none when the run wrote no such file."""
    if not path.is_file():
        return []
    return [jsoncodec.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def timeline(versions: list[dict[str, Any]], notes: list[dict[str, Any]]) -> list[TimelineEntry]:
    """Notifications, and top-cause changes of paged incidents, in event-time order.

    The engine sends no notification when the top cause changes; the timeline
    shows the change anyway (marked so), since the page named the earlier cause.
    """
    entries = []
    paged_at: dict[str, int] = {}
    for note in notes:
        first = paged_at.get(note["incident_id"], note["incident_version"])
        paged_at[note["incident_id"]] = min(first, note["incident_version"])
        cause = note["title"].rpartition("likely cause ")[2] or "-"
        entries.append(
            TimelineEntry(
                note["ts"],
                _KIND_WORD.get(note["kind"], note["kind"]),
                note["incident_id"],
                f"{note['severity']:8} likely cause {cause}",
            )
        )
    shown: dict[str, str] = {}
    for version in sorted(versions, key=lambda v: (v["incident_id"], v["version"])):
        incident_id = version["incident_id"]
        if incident_id not in paged_at or version["version"] < paged_at[incident_id]:
            continue
        cause = top_cause(version)
        before = shown.setdefault(incident_id, cause)
        if cause != before:
            shown[incident_id] = cause
            entries.append(
                TimelineEntry(
                    version["updated_at"],
                    "CAUSE",
                    incident_id,
                    f"{version['severity']:8} likely cause {before} -> {cause} (no notification)",
                )
            )
    return sorted(entries, key=lambda e: (e.ts, e.incident_id))


@dataclass(frozen=True, slots=True)
class TruthScore:
    """How one true incident was handled: the incident holding it, its top cause, the pages."""

    truth: dict[str, Any]
    holders: list[str]  # incident ids holding any of its alerts, the main one first
    held: int  # how many of its alerts the main one holds
    top_cause: str | None
    pages: int

    @property
    def cause_right(self) -> bool:
        """Whether the main incident's final top cause is the injected fault's service."""
        return self.top_cause == self.truth["root_cause"]


def held_truths(incident: dict[str, Any], truth: dict[str, Any]) -> dict[str, set[str]]:
    """Per true incident id, the fingerprints of its alerts that ``incident`` holds.

    One alert can belong to two true incidents (the same rule fires in both); an
    alert member then counts for the true incident whose time window is nearest
    to when it joined, so a later fault's incident does not also "hold" an earlier one.
    """
    held: dict[str, set[str]] = {}
    for member in incident["members"]:
        if member["kind"] != "alert":
            continue
        owners = [t for t in truth["incidents"] if member["id"] in t["alert_fingerprints"]]
        if owners:
            joined = _epoch(member["ts"])
            nearest = min(owners, key=lambda t: _distance(joined, t))
            held.setdefault(nearest["id"], set()).add(member["id"])
    return held


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def _distance(at: float, fault: dict[str, Any]) -> float:
    start, end = _epoch(fault["start"]), _epoch(fault["end"])
    return max(start - at, 0.0, at - end)


def score(
    incidents: list[dict[str, Any]], truth: dict[str, Any], pages: Counter[str]
) -> tuple[list[TruthScore], int, int]:
    """Per true incident its score; then the incidents and the pages that hold no true alert.

    Strict: the incident that holds a true incident is the one with most of its
    alerts (the earliest opened on a tie), and only that incident's final top
    cause counts; every page of every incident holding any of its alerts counts
    as a page for it.
    """
    held = {inc["incident_id"]: held_truths(inc, truth) for inc in incidents}
    scores = []
    for fault in truth["incidents"]:
        holding = [inc for inc in incidents if fault["id"] in held[inc["incident_id"]]]
        holding.sort(
            key=lambda inc: (-len(held[inc["incident_id"]][fault["id"]]), inc["opened_at"])
        )
        main = holding[0] if holding else None
        scores.append(
            TruthScore(
                truth=fault,
                holders=[inc["incident_id"] for inc in holding],
                held=len(held[main["incident_id"]][fault["id"]]) if main else 0,
                top_cause=top_cause(main) if main else None,
                pages=sum(pages[inc["incident_id"]] for inc in holding),
            )
        )
    noise = [incident_id for incident_id, truths in held.items() if not truths]
    return scores, len(noise), sum(pages[i] for i in noise)


def truth_of(incident: dict[str, Any], truth: dict[str, Any]) -> str:
    """``INC-001`` (or several) when the incident holds a true incident's alert, else ``noise``."""
    return ",".join(sorted(held_truths(incident, truth))) or "noise"


def score_lines(incidents: list[dict[str, Any]], truth: dict[str, Any], out_dir: Path) -> list[str]:
    """The score section of the demo's output."""
    pages = pages_per_incident(out_dir)
    scores, noise_incidents, noise_pages = score(incidents, truth, pages)
    lines = []
    for s in scores:
        t = s.truth
        window = f"{t['start'][11:16]}-{t['end'][11:16]}"
        head = f"  {t['id']} {t['fault']} at {t['root_cause']} {window}: "
        if not s.holders:
            lines.append(head + "MISSED, no incident holds its alerts")
            continue
        verdict = "right" if s.cause_right else "WRONG"
        split = f", split over {len(s.holders)} incidents" if len(s.holders) > 1 else ""
        lines.append(
            head + f"held by {s.holders[0][:8]} ({s.held}/{len(t['alert_fingerprints'])} "
            f"alerts{split}), top cause {s.top_cause}: {verdict}; {s.pages} page(s)"
        )
    right = sum(s.cause_right for s in scores)
    lines.append(
        f"  noise: {noise_incidents} incident(s) hold no alert of an injected fault; "
        f"{noise_pages} page(s)"
    )
    lines.append(
        f"  Score: top cause right for {right} of {len(scores)} true incidents; "
        f"{sum(s.pages for s in scores)} page(s) for true incidents, {noise_pages} for noise"
    )
    return lines
