"""``alertflow demo``: simulate a small estate, run the full flow on it, show what it found.

The output is what an on-call engineer would want, in event time: the pages,
the incidents as they ended, and how both compare with what was injected.
"""

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from alertflow.dataflows.demo_report import read_jsonl, score_lines, timeline, truth_of
from alertflow.dataflows.flow import build_flow
from alertflow.dataflows.incident_view import (
    current_incidents,
    duration,
    pages_per_incident,
    table,
    write_current,
)
from alertflow.dataflows.live_view import short_series
from alertflow.dataflows.run_summary import RunSummary
from alertflow.dataflows.runner import run
from alertflow.operators.correlation.noise_digest import listed_kinds
from alertflow.operators.simulate import SimulationSummary, simulate
from alertflow.operators.simulate.trends import write_trends
from alertflow.schemas import jsoncodec
from alertflow.schemas.config import AlertflowConfig
from alertflow.schemas.outputs import Anomaly

_INPUTS = ("metrics", "alerts", "logs", "traces")
# Evidence names times in full; the demo spans one day, so the clock time says it.
_CLOCK = re.compile(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)(?:\.\d+)?Z")
_WIDTH = 118  # incident rows are cut here unless --verbose
_SPAN = re.compile(r"traces: .* span ")  # evidence naming a failing span (operators.span_faults)
_TRENDS = 4
_DEMO_HOURS = 3
_SIM_START_NS = 1_795_600_800 * 10**9  # simulate()'s default start


def _trend_start() -> int:
    return _SIM_START_NS - 86_400 * 10**9


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())


def _clip(text: str, width: int) -> str:
    """``text`` within ``width`` characters, ``...`` saying when it was cut."""
    return text if len(text) <= width else text[: width - 3] + "..."


def predictions_report(outputs: Path, versions: list[dict[str, Any]], out: TextIO) -> None:
    """Predicted incidents as they ended, with their first recommendation."""
    predictions = read_jsonl(outputs / "predictions.jsonl")
    predicted = [v for v in versions if v["members"] and v["members"][0]["kind"] == "prediction"]
    last = {v["incident_id"]: v for v in predicted}
    out.write(
        f"\nPredictions: {len(predictions)} records, "
        f"{sum(p['status'] == 'breach_predicted' for p in predictions)} foretelling a breach; "
        f"{len(last)} predicted incident{'' if len(last) == 1 else 's'}:\n"
    )
    for inc in last.values():
        outcome = inc.get("outcome") or inc["status"]
        summary = _clip(inc["summary"], _WIDTH - 22)
        out.write(f"  {inc['opened_at'][11:19]}  {outcome:9} {summary}\n")
        if inc["recommendations"]:
            out.write(f"            -> {_clip(inc['recommendations'][0], _WIDTH - 14)}\n")


def describe_simulation(summary: SimulationSummary) -> str:
    """What ``simulate`` wrote, for a person."""
    return (
        f"Wrote {summary.out_dir}/: metrics.jsonl ({summary.metric_lines} samples), "
        f"alerts.jsonl ({summary.alert_payloads} Alertmanager payloads), "
        f"traces.jsonl ({summary.trace_requests} requests), "
        f"logs.jsonl ({summary.log_lines} lines), ground_truth.json "
        f"({summary.incidents} injected faults, {summary.noise_alerts} noise alerts)"
    )


def run_demo(
    out_dir: Path, seed: int = 7, out: TextIO | None = None, verbose: bool = False
) -> None:
    """Generate telemetry into ``out_dir/input``, process it into ``out_dir/output``, report."""
    out = out or sys.stdout
    inputs = out_dir / "input"
    outputs = out_dir / "output"
    sim = simulate(inputs, seed=seed)
    # Series trending toward thresholds (issue 14), their history starting a day before the
    # estate's window, so the forecasts have a day to learn from.
    write_trends(inputs, seed, _TRENDS, days=1.0 + _DEMO_HOURS / 24, start_ns=_trend_start())
    out.write(
        f"Simulated a microservice estate (seed {seed}) into {inputs}/: "
        f"{sim.incidents} injected faults, {sim.noise_alerts} noise alerts, "
        f"{_TRENDS} series trending toward thresholds.\n"
    )
    inputs_by_stream = {stream: [str(inputs / f"{stream}.jsonl")] for stream in _INPUTS}
    inputs_by_stream["metrics"].append(str(inputs / "trends.jsonl"))
    prediction = jsoncodec.loads(jsoncodec.dumps(_yaml(inputs / "prediction.yaml")))
    config = AlertflowConfig(
        inputs=inputs_by_stream,
        prediction=prediction["prediction"],
        output=str(outputs),
        # The files advance through event time together, as live streams would: otherwise
        # the small alerts file is read at once and the log bursts arrive after its incidents.
        runtime={"file_pace_s": 60.0},
    )
    summary = RunSummary()
    run(build_flow(config, summary=summary), config.runtime)
    write_current(outputs)
    records_in = sum(summary.records_in.values())
    out.write(
        f"Ran alertflow on its {records_in} records; it wrote\n"
        f"  {', '.join(summary.output_counts())}.\n"
    )
    report(outputs, jsoncodec.loads((inputs / "ground_truth.json").read_bytes()), out, verbose)


def report(outputs: Path, truth: dict[str, Any], out: TextIO, verbose: bool = False) -> None:
    """Timeline of pages, table of incidents, score against the truth, then anomalies."""
    versions = read_jsonl(outputs / "incidents.jsonl")
    incidents = current_incidents(outputs / "incidents.jsonl") if versions else []
    by_id = {inc["incident_id"]: inc for inc in incidents}
    entries = timeline(versions, read_jsonl(outputs / "notifications.jsonl"))
    day = entries[0].ts[:10] if entries else ""
    out.write(f"\nPages, in event time ({day}, UTC; [truth] is what the simulation injected):\n")
    for e in entries:
        truth_tag = truth_of(by_id[e.incident_id], truth) if e.incident_id in by_id else "?"
        out.write(f"  {e.ts[11:19]}  {e.what:9} {e.incident_id[:8]}  {e.text}  [{truth_tag}]\n")
    if not entries:
        out.write("  (none)\n")
    out.write("\nIncidents, as they ended:\n")
    pages = pages_per_incident(outputs)
    rows = table(incidents, pages) if verbose else _short_table(incidents, pages, truth)
    for line in rows:
        out.write(f"  {line}\n")
    out.write("\nScore against the simulation's ground truth (strict):\n")
    for line in score_lines(incidents, truth, outputs):
        out.write(line + "\n")
    _anomalies(read_jsonl(outputs / "anomalies.jsonl"), out, verbose)
    predictions_report(outputs, versions, out)
    written = ", ".join(sorted(p.name for p in outputs.glob("*.jsonl")))
    out.write(
        f"\nAll outputs are in {outputs}/ ({written});\n"
        f"'alertflow incidents {outputs}' prints the incidents again.\n"
    )


def _short_table(
    incidents: list[dict[str, Any]], pages: Counter[str], truth: dict[str, Any]
) -> list[str]:
    """One line per incident, its top cause and evidence cut to the screen's width."""
    lines = [
        f"{'ID':8}  {'SEVERITY':8} {'LASTED':>6} {'MEMBERS':>7} {'PAGES':>5}  "
        f"{'TRUTH':9} TOP CAUSE: EVIDENCE"
    ]
    for inc in incidents:
        causes = inc.get("root_causes") or []
        evidence = _CLOCK.sub(r"\1", "; ".join(causes[0]["evidence"])) if causes else ""
        cause = f"{causes[0]['service']}: {evidence}" if causes else "-"
        if inc.get("kind") == "noise":  # a digest of lone warnings ranks no cause: what it lists
            cause = "noise digest: " + listed_kinds(inc["summary"])
        row = (
            f"{inc['incident_id'][:8]}  {inc['severity']:8} {duration(inc):>6} "
            f"{len(inc['members']):7d} {pages[inc['incident_id']]:5d}  "
            f"{truth_of(inc, truth):9} {cause}"
        )
        lines.append(_cut(row))
        # The failing span that names the cause: the trace to open first, on a line of its own.
        # Not cut: the ids are what one copies into a trace viewer.
        span = next((e for e in causes[0]["evidence"] if _SPAN.match(e)), None) if causes else None
        if span is not None:
            lines.append(f"{'':10}{span}")
    return lines


def _cut(row: str) -> str:
    return row if len(row) <= _WIDTH else row[: _WIDTH - 3] + "..."


def _anomalies(records: list[dict[str, Any]], out: TextIO, verbose: bool) -> None:
    severity = Counter(r["severity"] for r in records)
    detail = ", ".join(f"{k} {v}" for k, v in sorted(severity.items()))
    if not verbose:
        out.write(
            f"\n{len(records)} anomalies ({detail or 'none'}); "
            "--verbose lists each series' first, info severity included.\n"
        )
        return
    out.write(f"\nAnomalies ({detail or 'none'}), each series' first, in event time:\n")
    first: dict[str, dict[str, Any]] = {}
    for record in records:
        first.setdefault(record["series"], record)
    for r in sorted(first.values(), key=lambda r: (r["ts"], r["series"])):
        series = short_series(Anomaly.model_validate(r))
        out.write(
            f"  {r['ts'][11:19]}  {r['severity']:8} {series}  value={r['value']:.4g} "
            f"band {r['lower']:.4g}..{r['upper']:.4g}  score={r['score']:.3f} "
            f"({', '.join(r['detectors'])})\n"
        )
