"""``alertflow demo``: simulate a small estate, run the full flow on it, show what it finds."""

import sys
from pathlib import Path
from typing import TextIO

from dataflows.flow import build_flow
from dataflows.live_view import TerminalView, TerminalViewSink
from dataflows.runner import run
from operators.simulate import simulate
from schemas import jsoncodec
from schemas.config import AlertflowConfig

_INPUTS = ("metrics", "alerts", "logs", "traces")


def run_demo(out_dir: Path, seed: int = 7, out: TextIO | None = None) -> None:
    """Generate telemetry into ``out_dir/input``, process it, write ``out_dir/output``."""
    out = out or sys.stdout
    inputs = out_dir / "input"
    outputs = out_dir / "output"
    out.write(f"Simulating a microservice estate (seed {seed}) into {inputs}/ ...\n")
    simulate(inputs, seed=seed)
    config = AlertflowConfig(
        inputs={stream: [str(inputs / f"{stream}.jsonl")] for stream in _INPUTS},
        output=str(outputs),
        # The files advance through event time together, as live streams would: otherwise
        # the small alerts file is read at once and the log bursts arrive after its incidents.
        runtime={"file_pace_s": 60.0},
    )
    out.write("Running alertflow on it; decisions appear as they are made:\n\n")
    view = TerminalView(out)
    run(build_flow(config, extra_sinks=(TerminalViewSink(view),)), config.runtime)
    out.write(f"\nDone. {view.summary()}\n")
    _compare_with_truth(outputs / "incidents.jsonl", inputs / "ground_truth.json", out)
    written = ", ".join(sorted(p.name for p in outputs.glob("*.jsonl")))
    out.write(f"All outputs: {outputs}/ ({written})\n")


def _compare_with_truth(incidents_path: Path, truth_path: Path, out: TextIO) -> None:
    latest: dict[str, dict] = {}
    for line in incidents_path.read_bytes().splitlines():
        record = jsoncodec.loads(line)
        latest[record["incident_id"]] = record
    truth = jsoncodec.loads(truth_path.read_bytes())
    out.write(
        f"\n{len(latest)} incident(s) found; the simulation injected "
        f"{len(truth['incidents'])} fault(s) and {len(truth['noise_alert_fingerprints'])} "
        "unrelated noise alert(s).\n"
    )
    for fault in truth["incidents"]:
        fingerprints = set(fault["alert_fingerprints"])
        matches = [
            inc for inc in latest.values() if fingerprints & {m["id"] for m in inc["members"]}
        ]
        causes = [
            inc["root_causes"][0]["service"] if inc["root_causes"] else "-" for inc in matches
        ]
        verdict = "found" if matches else "missed"
        hit = "top cause correct" if fault["root_cause"] in causes else "top cause differs"
        out.write(
            f"  fault {fault['fault']} at {fault['root_cause']} ({fault['start']}): "
            f"{verdict} in {len(matches)} incident(s)"
            f"{'; ' + hit + ' (' + ', '.join(causes) + ')' if matches else ''}\n"
        )
