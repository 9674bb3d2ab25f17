"""What ``alertflow run`` says when it ends: records in, decoded, dead-lettered, and what came out.

The counts are taken per batch (a poll, a shard's decisions), never per record,
so keeping them costs the flow a few calls per thousand records.
"""

import base64
import threading
from collections import Counter
from collections.abc import Callable

from alertflow.operators.decisions import Decision
from alertflow.operators.score_block import ScoreBlock
from alertflow.schemas.decoders import STREAMS, decode_stream
from alertflow.schemas.errors import DecodeError

_SAMPLES_PER_STREAM = 20  # dead letters kept per stream to guess what the input really was
_TOP_REASONS = 3
_MOSTLY = 0.5  # a stream whose dead-letter share is above this gets a warning
_OUTPUT_ORDER = ("anomalies", "scores", "incidents", "notifications", "dlq")


class RunSummary:
    """Counts of one process's run; workers of the process share it, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records_in: Counter[str] = Counter()
        self.outputs: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {}
        self.samples: dict[str, list[bytes]] = {}
        self.anomaly_severity: Counter[str] = Counter()
        self.incident_ids: set[str] = set()
        self.notifications: Counter[str] = Counter()

    def input_counter(self, stream: str) -> Callable[[str, list], None]:
        """An ``op.inspect`` callback counting the messages of one poll of ``stream``."""

        def count(_step_id: str, poll: list) -> None:
            with self._lock:
                self.records_in[stream] += len(poll)

        return count

    def counts(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        """Copies of the messages read, records emitted and dead letters, per stream."""
        with self._lock:
            return Counter(self.records_in), Counter(self.outputs), Counter(self.dead)

    def record(self, _step_id: str, decisions: list[Decision]) -> None:
        """An ``op.inspect`` callback counting a batch of output decisions."""
        with self._lock:
            # Counted in C; only the rare streams' decisions are looked at one by one.
            self.outputs.update(map(_stream_of, decisions))
            for decision in decisions:
                stream = decision.stream
                if stream == "scores":
                    if type(decision) is ScoreBlock:  # counted once above: its other rows
                        self.outputs["scores"] += len(decision) - 1
                    continue
                if stream == "dlq":
                    self._dead_letter(decision)
                elif stream == "anomalies":
                    self.anomaly_severity[decision.field("severity") or "info"] += 1
                elif stream == "incidents":
                    self.incident_ids.add(decision.key)
                elif stream == "notifications":
                    self.notifications[decision.field("kind") or "?"] += 1

    def _dead_letter(self, decision: Decision) -> None:
        stream = decision.field("stream") or "?"
        self.dead[stream] += 1
        self.reasons.setdefault(stream, Counter())[decision.field("reason") or "?"] += 1
        samples = self.samples.setdefault(stream, [])
        if len(samples) < _SAMPLES_PER_STREAM:
            samples.append(base64.b64decode(decision.field("raw_b64") or ""))

    def lines(self, process_id: int | None = None) -> list[str]:
        """The summary, one line each, for stderr; a cluster's processes each print their own."""
        head = f"  {'input':10} {'records':>9} {'decoded':>9} {'dlq':>9}"
        which = "" if process_id is None else f" (process {process_id}'s share)"
        out = [f"alertflow: run finished{which}", head]
        for stream in STREAMS:
            if stream in self.records_in or stream in self.dead:
                got, dead = self.records_in[stream], self.dead[stream]
                out.append(f"  {stream:10} {got:9d} {max(got - dead, 0):9d} {dead:9d}")
        for stream, reasons in sorted(self.reasons.items()):
            top = "; ".join(f"{reason} ({n})" for reason, n in reasons.most_common(_TOP_REASONS))
            out.append(f"  dlq {stream}: {top}")
        out.append("  out: " + ", ".join(self.output_counts()))
        return out

    def output_counts(self) -> list[str]:
        """Each output stream's count, anomalies by severity, incidents and their versions."""
        parts = []
        for stream in _OUTPUT_ORDER:
            n = self.outputs[stream]
            if stream == "anomalies" and n:
                detail = ", ".join(f"{k} {v}" for k, v in sorted(self.anomaly_severity.items()))
                parts.append(f"{n} anomalies ({detail})")
            elif stream == "incidents":
                parts.append(f"{len(self.incident_ids)} incidents ({n} versions)")
            elif stream == "notifications":
                kinds = ", ".join(
                    f"{k.removeprefix('incident_')} {v}"
                    for k, v in sorted(self.notifications.items())
                )
                parts.append(f"{n} notifications" + (f" ({kinds})" if kinds else ""))
            elif n or stream != "scores":  # scores are off unless asked for
                parts.append(f"{n} {stream}")
        return parts

    def warnings(self) -> list[str]:
        """One line per input stream that mostly failed to decode, naming the likely cause."""
        out = []
        for stream, dead in sorted(self.dead.items()):
            got = max(self.records_in[stream], dead)
            if got and dead / got > _MOSTLY:
                out.append(
                    f"alertflow: warning: {stream}: {dead} of {got} records failed to decode; "
                    + self._likely_cause(stream)
                )
        return out

    def _likely_cause(self, stream: str) -> str:
        samples = self.samples.get(stream, [])
        fits = Counter(other for raw in samples for other in STREAMS if _decodes(other, raw))
        fits.pop(stream, None)
        if fits:
            other, n = fits.most_common(1)[0]
            return (
                f"{n} of {len(samples)} sampled ones decode as {other}: "
                f"was {other} input given as {stream}=?"
            )
        reason = self.reasons[stream].most_common(1)[0][0]
        return f"most often: {reason}; see dlq for the raw records"


def _stream_of(decision: Decision) -> str:
    return decision.stream


def _decodes(stream: str, raw: bytes) -> bool:
    try:
        return bool(decode_stream(stream, raw))
    except (DecodeError, RecursionError):
        return False
