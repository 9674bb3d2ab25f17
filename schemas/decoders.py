"""One entry point per input stream: raw message bytes in, canonical records out."""

from collections.abc import Callable

from alertflow.schemas import jsoncodec
from alertflow.schemas.alertmanager import decode_alertmanager
from alertflow.schemas.errors import DecodeError
from alertflow.schemas.feedback import decode_feedback
from alertflow.schemas.otlp_logs import decode_logs
from alertflow.schemas.otlp_metrics import metrics_from_otlp
from alertflow.schemas.otlp_traces import decode_otlp_traces
from alertflow.schemas.prometheus import samples_from_adapter, well_formed_sample
from alertflow.schemas.records import InputRecord, MetricSample

Decoder = Callable[[bytes, str], list[InputRecord]]


def decode_metrics(raw: bytes, ref: str = "") -> list[MetricSample]:
    """Decode prometheus-kafka-adapter JSON, or OTLP JSON metrics (it has ``resourceMetrics``).

    >>> [s.name for s in decode_metrics(b'{"resourceMetrics":[]}')]
    []
    """
    doc = jsoncodec.loads(raw)
    if type(doc) is dict:
        # The adapter's usual message, without the general path's calls (the hot path).
        sample = well_formed_sample(doc, ref)
        if sample is not None:
            return [sample]
    if isinstance(doc, dict) and "resourceMetrics" in doc:
        return metrics_from_otlp(doc, ref)
    return samples_from_adapter(doc, ref)


DECODERS: dict[str, Decoder] = {
    "metrics": decode_metrics,
    "alerts": decode_alertmanager,
    "logs": decode_logs,
    "traces": decode_otlp_traces,
    "feedback": decode_feedback,
}

STREAMS = ("metrics", "alerts", "logs", "traces", "feedback")


def decode_stream(stream: str, raw: bytes | None, ref: str = "") -> list[InputRecord]:
    """Decode one message of ``stream``; raise :class:`DecodeError` on bad input."""
    # isspace() is strip()'s test without copying the message (False when empty).
    if not raw or raw.isspace():
        raise DecodeError(f"{stream}: empty message")
    try:
        decoder = DECODERS[stream]
    except KeyError:
        raise DecodeError(f"unknown input stream {stream!r}; expected one of {STREAMS}") from None
    return decoder(raw, ref)
