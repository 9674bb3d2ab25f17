"""One noise digest per window for the whole estate, folded from every domain's.

Each correlation domain (a cluster) keeps its own noise digest (``noise_digest``): its lone
warnings, one record per window. An estate of three clusters then has three digest records
a day that say the same kind of thing ("lone alerts, unrelated to any incident"), and nobody
reads them apart. With ``correlation.noise_digest_scope`` "estate", a step after
correlation folds the domains' digest versions of one window into one record: every domain's
lines (each member keeps its labels, so its cluster), their counts and the kinds' summary over
all of them. Nothing is lost: each domain's latest version of its digest is kept whole and
every line of it is a member of the estate's record (up to ``max_entries``, the rest
counted). The estate's record ends when every domain's digest of the window has ended.

>>> def part(domain, status="open"):
...     member = {"kind": "alert", "id": f"fp-{domain}", "ts": "2026-01-01T00:00:00.000Z",
...               "last_seen": "2026-01-01T00:01:00.000Z", "count": 1, "episodes": 1,
...               "status": "resolved", "service": "db",
...               "labels": {"alertname": "DiskLow", "cluster": domain, "severity": "warning"}}
...     return {"incident_id": f"digest-{domain}", "kind": "noise", "domain": domain,
...             "status": status, "opened_at": member["ts"], "updated_at": member["last_seen"],
...             "resolved_at": None, "members": [member], "members_omitted": 0,
...             "severity": "warning", "taken_by": {}}
>>> estate = EstateDigests(window_s=86_400)
>>> first = estate.fold(part("eu"))
>>> second = estate.fold(part("us"))
>>> first["incident_id"] == second["incident_id"], second["version"], second["status"]
(True, 2, 'updated')
>>> [m["id"] for m in second["members"]], second["domain"]
(['fp-eu', 'fp-us'], '*')
>>> second["summary"].split(": ")[-1]
'DiskLow x2 (db)'
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alertflow.operators.correlation.alert_dedup import SEVERITY_RANK
from alertflow.operators.correlation.noise_digest import DigestEntry, digest_record
from alertflow.operators.decisions import Record
from alertflow.operators.ids import stable_id
from alertflow.operators.restorable import Restorable
from alertflow.schemas.timefmt import NS_PER_S, parse_rfc3339_ns

ESTATE = "*"  # the domain an estate digest names: all of them
_MAX_WINDOWS = 8  # windows held at once (bounded state): the oldest ended one goes first


@dataclass(slots=True)
class EstateWindow(Restorable):
    """One window's estate digest: each domain's latest digest version, and its own count."""

    digest_id: str
    version: int = 0
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """Every domain's digest of the window known here has ended."""
        return all(p["status"] == "resolved" for p in self.parts.values())


class EstateDigests:
    """Folds domains' noise digest versions into one estate digest per window.

    A window's parts are kept after its record ends: another domain's digest of that window
    (its clock behind the others') joins the same record, its lines beside theirs. Windows
    two windows older than the newest, ended, are forgotten; a straggler of one then opens a
    record of its own (a new id), so no record's latest version ever loses a line.
    """

    def __init__(self, window_s: float, max_entries: int = 500) -> None:
        self.window_ns = int(window_s * NS_PER_S)
        self.max_entries = max_entries
        self.windows: dict[int, EstateWindow] = {}
        self.forgotten: OrderedDict[int, int] = OrderedDict()  # window -> records it had

    def fold(self, record: Mapping[str, Any]) -> Record:
        """A domain's digest version in, the estate digest's next version out."""
        opened = parse_rfc3339_ns(record["opened_at"])
        window = opened - opened % self.window_ns
        state = self.windows.get(window)
        if state is None:
            again = self.forgotten.get(window, 0)
            ids = (ESTATE, "noise", window, again) if again else (ESTATE, "noise", window)
            state = self.windows[window] = EstateWindow(stable_id(*ids))
        state.parts[str(record["domain"])] = dict(record)
        state.version += 1
        out = self._render(state)
        self._forget()
        return out

    def _forget(self) -> None:
        """Ended windows two windows behind the newest; the oldest past ``_MAX_WINDOWS``."""
        newest = max(self.windows)
        old = [w for w, s in self.windows.items() if s.ended and w + 2 * self.window_ns <= newest]
        while len(self.windows) - len(old) > _MAX_WINDOWS:
            old.append(min(w for w in self.windows if w not in old))
        for window in old:
            del self.windows[window]
            self.forgotten[window] = self.forgotten.pop(window, 0) + 1
            while len(self.forgotten) > 4 * _MAX_WINDOWS:
                self.forgotten.popitem(last=False)

    def _render(self, state: EstateWindow) -> Record:
        parts = [state.parts[d] for d in sorted(state.parts)]
        members = sorted((m for p in parts for m in p["members"]), key=lambda m: (m["ts"], m["id"]))
        omitted = sum(int(p.get("members_omitted") or 0) for p in parts)
        omitted += max(0, len(members) - self.max_entries)
        members = members[: self.max_entries]
        listed = {m["id"] for m in members}
        taken = {f: i for p in parts for f, i in (p.get("taken_by") or {}).items() if f in listed}
        entries = [_entry(m, taken.get(m["id"])) for m in members]
        updated = max(parse_rfc3339_ns(p["updated_at"]) for p in parts)
        resolved = [parse_rfc3339_ns(p["resolved_at"]) for p in parts if p.get("resolved_at")]
        severity = max(
            (p["severity"] for p in parts), default="info", key=SEVERITY_RANK.__getitem__
        )
        return digest_record(
            state.digest_id, state.version, ESTATE, entries, taken_by=taken,
            members=members, omitted=omitted, severity=severity,
            opened_ns=min(parse_rfc3339_ns(p["opened_at"]) for p in parts), updated_ns=updated,
            resolved_ns=max(resolved, default=updated) if state.ended else None,
        )  # fmt: skip


def _entry(member: Mapping[str, Any], incident_id: str | None) -> DigestEntry:
    """A member line back as the digest entry :func:`noise_digest.summary` reads."""
    first = parse_rfc3339_ns(member["ts"])
    labels = dict(member.get("labels") or {})
    return DigestEntry(
        member["id"], labels, member.get("service"), labels.get("severity", "warning"),
        first, parse_rfc3339_ns(member.get("last_seen") or member["ts"]),
        member.get("status", "resolved"), int(member.get("count") or 1),
        int(member.get("episodes") or 1), first, incident_id,
    )  # fmt: skip
