"""A simulated estate on a real broker, and the job run, killed and resumed on it.

Shared by the crash and rescale tests: both compare what a disturbed job wrote with
what one uninterrupted run wrote over the same input topics.
"""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson

from bench.broker import TansuBroker

INPUTS = ("metrics", "alerts", "traces", "logs")
DECISIONS = ("anomalies", "incidents", "notifications", "dlq")
OUTPUTS = (*DECISIONS, "audit")


class Estate:
    """``alertflow simulate``'s files, cut into event-time slices, and their input topics."""

    def __init__(
        self, broker: TansuBroker, directory: Path, streams: tuple[str, ...] = INPUTS, seed: int = 3
    ) -> None:
        self.broker = broker
        self.run_id = uuid.uuid4().hex[:8]
        simulate = [sys.executable, "-m", "alertflow.dataflows.cli", "simulate", "--out",
                    str(directory), "--seed", str(seed), "--services", "6", "--hours", "1",
                    "--incidents", "3", "--noise-alerts", "2"]  # fmt: skip
        subprocess.run(simulate, check=True, capture_output=True, timeout=120)
        self.directory = directory
        self.truth = orjson.loads((directory / "ground_truth.json").read_bytes())
        self.lines = {
            stream: [line for line in (directory / f"{stream}.jsonl").read_bytes().splitlines()
                     if line.strip()]
            for stream in streams
        }  # fmt: skip
        self.topics = {stream: f"in-{self.run_id}.{stream}" for stream in streams}
        broker.create_topics(*self.topics.values())

    def produce_share(self, start: float, end: float) -> None:
        """Produce the ``[start, end)`` share (0..1) of every input file, each in file order.

        Each file is in time order, so equal shares are about the same slice of event time.
        """
        for stream, lines in self.lines.items():
            first, last = round(start * len(lines)), round(end * len(lines))
            if last > first:
                self.broker.produce(self.topics[stream], lines[first:last])

    def inputs(self) -> list[str]:
        """The ``--input`` arguments for the job."""
        out = []
        for stream, topic in self.topics.items():
            out += ["--input", f"{stream}=kafka://{self.broker.bootstrap}/{topic}"]
        return out

    def file_inputs(self) -> list[str]:
        """``--input`` arguments reading the simulation's files, paced to advance together."""
        files = [a for s in self.topics for a in ("--input", f"{s}={self.directory}/{s}.jsonl")]
        return [*files, "--set", "runtime.file_pace_s=30"]

    def output_prefix(self, name: str) -> str:
        """A fresh topic prefix for one job's outputs, its topics created."""
        prefix = f"out-{self.run_id}-{name}."
        self.broker.create_topics(*(prefix + s for s in OUTPUTS))
        return prefix

    def command(
        self, prefix: str, *extra: str, stop_at_end: bool = False, files: bool = False
    ) -> list[str]:
        """``alertflow run`` on the estate's topics (or files), writing under ``prefix``."""
        inputs = self.file_inputs() if files else self.inputs()
        return [
            sys.executable, "-m", "alertflow.dataflows.cli", "run", *inputs,
            "--output", f"kafka://{self.broker.bootstrap}", "--set", f"topic_prefix={prefix}",
            "--set", f"kafka.stop_at_end={str(stop_at_end).lower()}", *extra,
        ]  # fmt: skip

    def outputs(self, prefix: str, expect: dict[str, int] | None = None) -> dict[str, list[dict]]:
        """Every record of every output topic under ``prefix``, in topic order."""
        expect = expect or {}
        return {
            s: [orjson.loads(v) for v in self.broker.consume_all(prefix + s, expect.get(s, 0))]
            for s in OUTPUTS
        }


def verify_audit(estate: Estate, prefix: str) -> str:
    """``alertflow audit verify`` on the audit topic under ``prefix``: its one line of output."""
    topic = f"kafka://{estate.broker.bootstrap}/{prefix}audit"
    cmd = [sys.executable, "-m", "alertflow.dataflows.cli", "audit", "verify", topic]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def by_id(records: list[dict]) -> tuple[dict[str, dict], list[str]]:
    """Records by id, and the ids that appeared with two different contents."""
    out: dict[str, dict] = {}
    conflicts = []
    for record in records:
        if out.setdefault(record["id"], record) != record:
            conflicts.append(record["id"])
    return out, conflicts


def current_incidents(versions: list[dict]) -> dict[str, dict]:
    """The last version of each incident: its state."""
    return {v["incident_id"]: v for v in versions}


def ids(records: list[dict]) -> Iterator[str]:
    """The ids of ``records``."""
    return (r["id"] for r in records)
