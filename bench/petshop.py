"""PetShop root-cause ranking through alertflow's own interface.

For every ``DIR/<scenario>/<split>/issue_N/`` the issue's ``metrics.csv`` is
converted to prometheus-kafka-adapter JSONL, the issue noticed in ``target.json``
(component, metric, time) becomes one Alertmanager alert, and both run through
``alertflow run --input metrics=FILE --input alerts=FILE`` with the scenario's
``graph.csv`` as ``correlation.topology_file`` (the only settings besides the
replay's lateness). Components are ranked by the ``root_causes`` of the incident that
holds the alert ("incident" path); failing that, by every incident's causes
("incidents"), else by the ``anomalies`` ("anomalies"), else nothing ("none").
The rank is compared with ``root_cause.node``.

Conversion, as a Prometheus recording rule would do it: availability (percent of
successful calls) becomes an error ratio, ``1 - availability / 100``, so every
series is one where larger is worse or neutral; latency and requests pass as
they are. The statistic (Average, p50, p99, Sum...) is a label of the series,
as Prometheus labels a summary's quantiles. Nothing else about the data, and
nothing about which components tend to be causes, reaches the product.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import zscore

ALERTFLOW = Path(sys.executable).with_name("alertflow")


@dataclass(frozen=True, slots=True)
class Column:
    """One metrics.csv column: the component, its metric and the statistic."""

    service: str
    metric: str
    statistic: str


@dataclass(slots=True)
class IssueResult:
    """The product's ranking for one PetShop issue."""

    scenario: str
    split: str
    issue: str
    truth: str
    ranked: list[str] = field(default_factory=list)
    z_ranked: list[str] = field(default_factory=list)  # bench.zscore, at the target's time
    path: str = "none"
    samples: int = 0
    rows: int = 0


def read_metrics_csv(path: Path) -> tuple[list[Column], list[tuple[float, list[str]]]]:
    """Parse a PetShop metrics.csv: four header rows, then ``timestamp, values...`` rows.

    Header rows: ``microservice``, ``metric``, ``statistic``, ``unix_timestamp``
    (the last one empty beyond its first cell). Returns the columns (without the
    timestamp column) and each data row as ``(unix_seconds, cells)``; empty
    cells are kept as ``""``.
    """
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    heads = {row[0]: row for row in rows[:4] if row}
    for name in ("microservice", "metric", "statistic"):
        if name not in heads:
            raise ValueError(f"{path}: missing header row {name!r}")
    services, metrics, stats = heads["microservice"], heads["metric"], heads["statistic"]
    columns = [
        Column(services[i], metrics[i], stats[i]) for i in range(1, len(services))
    ]
    data = []
    for row in rows[4:]:
        if not row or not row[0].strip():
            continue
        cells = row[1:] + [""] * (len(columns) - len(row) + 1)
        data.append((float(row[0]), cells[: len(columns)]))
    return columns, data


def rfc3339(unix_s: float) -> str:
    """Unix seconds as an RFC 3339 UTC timestamp with millisecond precision."""
    return datetime.fromtimestamp(unix_s, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def to_prometheus_records(
    columns: list[Column], data: Iterable[tuple[float, list[str]]]
) -> Iterator[dict[str, object]]:
    """Yield prometheus-kafka-adapter samples, one per non-empty numeric cell."""
    for ts, cells in data:
        stamp = rfc3339(ts)
        for col, cell in zip(columns, cells, strict=True):
            text = cell.strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                continue
            metric = col.metric
            if metric == "availability":
                metric, value = "error_ratio", 1.0 - value / 100.0
            # The statistic is a label, as Prometheus labels a summary's quantiles.
            name = f"petshop_{metric}"
            yield {
                "timestamp": stamp,
                "value": repr(value),
                "name": name,
                "labels": {
                    "__name__": name,
                    "service": col.service,
                    "metric": metric,
                    "statistic": col.statistic,
                },
            }


TARGET_FINGERPRINT = "petshop-target"


def target_alert(target: dict) -> dict[str, object]:
    """The issue as noticed: one firing Alertmanager alert on the target component."""
    node, metric = target["node"], target["metric"]
    return {
        "version": "4",
        "status": "firing",
        "receiver": "alertflow",
        "groupKey": "{}:{}",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": f"{metric.capitalize()}Degraded",
                    "service": node,
                    "severity": "warning",
                },
                "annotations": {"summary": f"{metric} of {node} degraded"},
                "startsAt": rfc3339(float(target["timestamp"])),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": TARGET_FINGERPRINT,
            }
        ],
    }


def _last_versions(path: Path) -> list[dict]:
    latest: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                latest[rec["incident_id"]] = rec
    return list(latest.values())


def rank_from_incidents(incidents: list[dict]) -> list[str]:
    """Services by their best root-cause score over all incidents, ties by first appearance."""
    best: dict[str, tuple[float, int]] = {}
    order = 0
    for inc in sorted(incidents, key=lambda r: (r.get("opened_at", ""), r["incident_id"])):
        for rc in inc.get("root_causes") or []:
            svc, score = rc["service"], float(rc.get("score", 0.0))
            if svc not in best or score > best[svc][0]:
                best[svc] = (score, best.get(svc, (0.0, order))[1])
            order += 1
    return sorted(best, key=lambda s: (-best[s][0], best[s][1]))


def rank_from_anomalies(anomalies: Iterable[dict]) -> list[str]:
    """Services by their maximum anomaly score, then earliest anomaly."""
    best: dict[str, tuple[float, str]] = {}
    for rec in anomalies:
        svc = (rec.get("labels") or {}).get("service")
        if not svc:
            continue
        score, ts = float(rec.get("score", 0.0)), str(rec.get("ts", ""))
        old = best.get(svc)
        if old is None:
            best[svc] = (score, ts)
        else:
            best[svc] = (max(old[0], score), min(old[1], ts))
    return sorted(best, key=lambda s: (-best[s][0], best[s][1], s))


def rank_output(out_dir: Path) -> tuple[list[str], str]:
    """Rank components from an ``alertflow run`` output directory; say which path was used."""
    incidents = _last_versions(out_dir / "incidents.jsonl")
    holding = [
        inc
        for inc in incidents
        if any(m["id"] == TARGET_FINGERPRINT for m in inc.get("members") or [])
    ]
    if holding:
        ranked = rank_from_incidents(holding)
        if ranked:
            return ranked, "incident"
    if incidents:
        ranked = rank_from_incidents(incidents)
        if ranked:
            return ranked, "incidents"
    anomalies_path = out_dir / "anomalies.jsonl"
    if anomalies_path.exists():
        recs = [json.loads(x) for x in anomalies_path.read_text().splitlines() if x.strip()]
        ranked = rank_from_anomalies(recs)
        if ranked:
            return ranked, "anomalies"
    return [], "none"


def find_issues(root: Path) -> list[Path]:
    """Every ``<scenario>/<split>/issue_N`` directory holding a metrics.csv, sorted."""
    found = [p.parent for p in root.glob("*/*/issue_*/metrics.csv")]
    return sorted(found, key=lambda p: (p.parent.parent.name, p.parent.name, _issue_no(p.name)))


def _issue_no(name: str) -> int:
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def run_issue(issue_dir: Path, work: Path, settings: tuple[str, ...] = ()) -> IssueResult:
    """Convert one issue, run the product on it and rank its output."""
    target = json.loads((issue_dir / "target.json").read_text())
    res = IssueResult(
        scenario=issue_dir.parent.parent.name,
        split=issue_dir.parent.name,
        issue=issue_dir.name,
        truth=target["root_cause"]["node"],
    )
    columns, data = read_metrics_csv(issue_dir / "metrics.csv")
    res.rows = len(data)
    res.z_ranked = zscore.rank(_series(columns, data), float(target["target"]["timestamp"]))
    work.mkdir(parents=True, exist_ok=True)
    metrics_path = work / "metrics.jsonl"
    with metrics_path.open("w") as fh:
        for rec in to_prometheus_records(columns, data):
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
            res.samples += 1
    alerts_path = work / "alerts.jsonl"
    alerts_path.write_text(json.dumps(target_alert(target["target"])) + "\n")
    graph = issue_dir.parent.parent / "graph.csv"
    out = work / "out"
    cmd = [str(ALERTFLOW), "run", "--input", f"metrics={metrics_path}"]
    cmd += ["--input", f"alerts={alerts_path}", "--output", str(out)]
    # A replay: the two files are read independently, so the correlator orders the whole
    # of it (the default lateness bound is for live streams).
    cmd += ["--set", "correlation.lateness_s=1e9"]
    if graph.exists():
        cmd += ["--set", f"correlation.topology_file={graph}"]
    cmd += [arg for setting in settings for arg in ("--set", setting)]
    subprocess.run(cmd, check=True, capture_output=True)
    res.ranked, res.path = rank_output(out)
    return res


def _series(
    columns: list[Column], data: list[tuple[float, list[str]]]
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Service -> column -> points, for the z-score baseline (every numeric cell)."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for ts, cells in data:
        for col, cell in zip(columns, cells, strict=True):
            try:
                value = float(cell)
            except ValueError:
                continue
            key = f"{col.metric}/{col.statistic}"
            out.setdefault(col.service, {}).setdefault(key, []).append((ts, value))
    return out


def topk(ranked: list[str], truth: str, k: int) -> bool:
    """Whether ``truth`` is among the first ``k`` of ``ranked``."""
    return truth in ranked[:k]


def evaluate(root: Path, settings: tuple[str, ...] = ()) -> list[IssueResult]:
    """Run every issue under ``root`` through the product."""
    results = []
    with tempfile.TemporaryDirectory(prefix="petshop-") as tmp:
        for i, issue_dir in enumerate(find_issues(root)):
            results.append(run_issue(issue_dir, Path(tmp) / f"{i:03d}", settings))
    return results


def report(results: list[IssueResult], root: Path) -> str:
    """Markdown: top-1/top-3 per scenario/split and overall, with the ranking path used."""
    lines = [
        f"### PetShop root cause (alertflow: metrics, the issue as an alert, graph) — {root}",
        "",
        "Inputs per issue: its metrics (availability as an error ratio), one alert for the "
        "target component at the target time, and `graph.csv` as the static topology. "
        f"Time steps per issue: {sorted({r.rows for r in results})}; samples sent: "
        f"{sum(r.samples for r in results)}.",
        "",
        "z-score: the baseline of `bench/zscore.py` (every component, largest z-score of any "
        "metric in the 10 minutes from the target's time against the hour before it).",
        "",
        "| scenario/split | issues | top-1 | top-3 | z-score top-1 | z-score top-3 "
        "| path: incident/incidents/anomalies/none |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    groups: dict[str, list[IssueResult]] = {}
    for r in results:
        groups.setdefault(f"{r.scenario}/{r.split}", []).append(r)
    groups_with_all = [*groups.items(), ("**overall**", results)]
    for name, rs in groups_with_all:
        n = len(rs)
        if not n:
            continue
        t1 = sum(topk(r.ranked, r.truth, 1) for r in rs) / n
        t3 = sum(topk(r.ranked, r.truth, 3) for r in rs) / n
        z1 = sum(topk(r.z_ranked, r.truth, 1) for r in rs) / n
        z3 = sum(topk(r.z_ranked, r.truth, 3) for r in rs) / n
        paths = "/".join(
            str(sum(r.path == p for r in rs))
            for p in ("incident", "incidents", "anomalies", "none")
        )
        lines.append(f"| {name} | {n} | {t1:.2f} | {t3:.2f} | {z1:.2f} | {z3:.2f} | {paths} |")
    lines += ["", "| issue | root cause | path | product top-3 |", "|---|---|---|---|"]
    for r in results:
        top3 = ", ".join(r.ranked[:3]) or "—"
        lines.append(f"| {r.scenario}/{r.split}/{r.issue} | {r.truth} | {r.path} | {top3} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra alertflow setting"
    )
    args = parser.parse_args(argv)
    print(report(evaluate(args.root, tuple(args.set)), args.root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
