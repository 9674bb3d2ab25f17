"""One noise digest per window for the estate, folded from every domain's (issue 10).

Records counted: an estate of several clusters had one digest record per cluster and day.
Each row folds hand-made domain digest versions (in order) and checks the estate's record:
one per window, every domain's lines in it, ended only when every domain's has ended.
"""

import pytest
from alertflow.dataflows.estate_digest_step import EstateDigestLogic, apart, digests_only
from alertflow.dataflows.flow import build_flow
from alertflow.operators.correlation.estate_digest import ESTATE, EstateDigests
from alertflow.operators.decisions import Decision, Record
from alertflow.schemas.config import AlertflowConfig, CorrelationConfig
from alertflow.schemas.outputs import Incident
from bytewax.testing import run_main

from tests.flowkit import alert_line, read_jsonl, write_lines

DAY = "2026-01-01T"
NEXT = "2026-01-02T"


def line(fp: str, domain: str, at: str = "10:00:00", name: str = "DiskLow") -> dict:
    labels = {"alertname": name, "cluster": domain, "severity": "warning"}
    return {"kind": "alert", "id": fp, "ts": f"{DAY}{at}.000Z", "last_seen": f"{DAY}{at}.000Z",
            "count": 1, "episodes": 1, "status": "resolved", "service": "db", "labels": labels}  # fmt: skip


def part(domain: str, members: list[dict], status: str = "open", day: str = DAY, **kw) -> Record:
    """A domain's digest version, as noise_digest.render_digest writes one."""
    record = {
        "id": f"{domain}-v", "incident_id": f"digest-{domain}-{day}", "version": 1,
        "status": status, "kind": "noise", "taken_by": {}, "merged_into": None,
        "domain": domain, "opened_at": f"{day}09:00:00.000Z", "updated_at": f"{day}11:00:00.000Z",
        "resolved_at": f"{day}23:59:59.000Z" if status == "resolved" else None,
        "services": ["db"], "members": members, "members_omitted": 0, "root_causes": [],
        "severity": "warning", "summary": "", "recommendations": [], "outcome": None,
    }  # fmt: skip
    record.update(kw)
    return Record(record)


def fold(parts: list[Record], max_entries: int = 500) -> list[Record]:
    estate = EstateDigests(window_s=86_400, max_entries=max_entries)
    return [estate.fold(p) for p in parts]


def final(versions: list[Record]) -> list[Record]:
    last: dict[str, Record] = {}
    for v in versions:
        last[v["incident_id"]] = v
    return list(last.values())


@pytest.mark.parametrize(
    ("parts", "records", "statuses"),
    [
        pytest.param(
            [part("eu", [line("a", "eu")]), part("us", [line("b", "us")])],
            [["a", "b"]],
            ["updated"],
            id="two-clusters-one-day-one-record",
        ),
        pytest.param(
            [part("eu", [line("a", "eu")]), part("eu", [line("a", "eu"), line("c", "eu")])],
            [["a", "c"]],
            ["updated"],
            id="a-domain-s-later-version-replaces-its-earlier-one",
        ),
        pytest.param(
            [part("eu", [line("a", "eu")]), part("us", [line("b", "us")], day=NEXT)],
            [["a"], ["b"]],
            ["open", "open"],
            id="another-day-another-record",
        ),
        pytest.param(
            [
                part("eu", [line("a", "eu")], status="resolved"),
                part("us", [line("b", "us")]),
            ],
            [["a", "b"]],
            ["updated"],
            id="ended-only-when-every-domain-s-digest-has-ended",
        ),
        pytest.param(
            [
                part("eu", [line("a", "eu")], status="resolved"),
                part("us", [line("b", "us")], status="resolved"),
            ],
            [["a", "b"]],
            ["resolved"],
            id="every-domain-ended-the-estate-s-ends",
        ),
    ],
)
def test_estate_digest(parts, records, statuses):
    versions = fold(parts)
    last = final(versions)
    assert [sorted(m["id"] for m in r["members"]) for r in last] == records
    assert [r["status"] for r in last] == statuses
    assert {r["domain"] for r in last} == {ESTATE}
    for version in versions:
        Incident.model_validate(version)  # every version passes the output schema
    ids = [v["id"] for v in versions]
    assert len(ids) == len(set(ids))  # a version id is never reused


def test_a_straggler_after_the_end_joins_the_same_record():
    versions = fold([
        part("eu", [line("a", "eu")], status="resolved"),
        part("us", [line("b", "us")], status="resolved"),  # the estate's ends here
        part("ap", [line("c", "ap")]),  # a late domain's digest of the same day
    ])  # fmt: skip
    assert [v["version"] for v in versions] == [1, 2, 3]
    # Each known part had ended; the late one's line reopens the record, beside the others.
    assert [v["status"] for v in versions] == ["resolved", "resolved", "updated"]
    assert len({v["incident_id"] for v in versions}) == 1
    assert sorted(m["id"] for m in versions[-1]["members"]) == ["a", "b", "c"]


def test_a_forgotten_window_s_straggler_opens_a_record_of_its_own():
    later = "2026-01-04T"  # two days on: the first day's ended window is forgotten
    versions = fold([
        part("eu", [line("a", "eu")], status="resolved"),
        part("us", [line("b", "us")], day=later),
        part("ap", [line("c", "ap")]),  # the first day's, late
    ])  # fmt: skip
    first, _, late = versions
    assert late["incident_id"] != first["incident_id"]  # first's last version keeps "a"
    assert [m["id"] for m in late["members"]] == ["c"]
    assert len({v["id"] for v in versions}) == 3


def test_summary_counts_taken_lines_and_bounds_members():
    eu = part("eu", [line("a", "eu"), line("t", "eu", "10:05:00")], taken_by={"t": "INC-1"})
    us = part("us", [line(f"u{i}", "us", f"10:1{i}:00", "CPUHigh") for i in range(3)])
    (record,) = final(fold([eu, us]))
    assert record["taken_by"] == {"t": "INC-1"}
    assert (
        "5 lone alerts" in record["summary"]
        and "(1 since taken by an incident)" in record["summary"]
    )
    assert record["summary"].endswith("CPUHigh x3 (db); DiskLow x2 (db)")
    assert record["recommendations"] == [
        "Review rule CPUHigh: 3 lone episodes, none part of an incident."
    ]
    (bounded,) = final(fold([eu, us], max_entries=2))
    assert len(bounded["members"]) == 2 and bounded["members_omitted"] == 3  # counted, not lost


def test_the_step_replaces_domain_digests_and_passes_the_rest():
    incident = Decision("incidents", "inc", Record({"kind": "incident", "incident_id": "inc"}))
    note = Decision("notifications", "inc", Record({"kind": "incident_opened"}))
    eu = Decision("incidents", "digest-eu", part("eu", [line("a", "eu")]), ("alerts:1",))
    us = Decision("incidents", "digest-us", part("us", [line("b", "us")]), ("alerts:2",))
    batches = apart([incident, eu, note, us])
    assert [digests_only(b) for b in batches] == [True, False]
    assert batches[1] == [incident, note]
    logic = EstateDigestLogic(None, CorrelationConfig())
    (out,), _ = logic.on_batch([batches[0]])
    assert [d.key for d in out] == [out[0].record["incident_id"]] * 2
    assert [d.inputs for d in out] == [("alerts:1",), ("alerts:2",)]
    resumed = EstateDigestLogic(logic.snapshot(), CorrelationConfig())
    (more,), _ = resumed.on_batch([[eu]])
    assert more[0].record["version"] == 3  # the snapshot kept the window's count


def _flow(tmp_path, scope: str) -> list[dict]:
    # Two clusters, each with a lone warning that fires and resolves (a digest line each),
    # and a one-off OOM kill on c1.
    lines = []
    for fp, cluster, at, name, severity in (
        ("bbbb000000000001", "c1", "10:00", "DiskLow", "warning"),
        ("bbbb000000000002", "c2", "10:05", "CertExpiring", "warning"),
        ("bbbb000000000003", "c1", "11:00", "KubeContainerOOMKilledOnce", "critical"),
    ):
        kw = {"service": "db", "severity": severity, "name": name, "cluster": cluster}
        start, end = f"2026-11-25T{at}:00Z", f"2026-11-25T{at[:3]}03:00Z"
        lines += [
            alert_line(fp, "firing", start, **kw),
            alert_line(fp, "resolved", start, end, **kw),
        ]
    config = AlertflowConfig(
        inputs={"alerts": [str(write_lines(tmp_path / "alerts.jsonl", lines))]},
        output=str(tmp_path / scope),
        correlation={"noise_digest_scope": scope, "one_off_alerts": "Once$"},
    )
    run_main(build_flow(config))
    last: dict[str, dict] = {}
    for record in read_jsonl(tmp_path / scope / "incidents.jsonl"):
        last[record["incident_id"]] = record
    return list(last.values())


def test_the_flow_writes_one_estate_digest_for_two_clusters(tmp_path):
    domain = _flow(tmp_path, "domain")
    assert sorted(r["domain"] for r in domain if r["kind"] == "noise") == ["c1", "c2"]
    estate = _flow(tmp_path, "estate")
    (digest,) = estate  # the OOM kill is a line too: no incident, no page
    assert digest["domain"] == ESTATE
    assert sorted(m["id"] for m in digest["members"]) == [
        "bbbb000000000001", "bbbb000000000002", "bbbb000000000003",
    ]  # fmt: skip
    assert {m["labels"]["cluster"] for m in digest["members"]} == {"c1", "c2"}
