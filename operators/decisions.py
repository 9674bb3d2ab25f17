"""What operators hand to the outputs: a record for one output stream, with its provenance."""

from dataclasses import dataclass
from typing import Any

from alertflow.schemas.jsoncodec import dumps
from pydantic import BaseModel


class Record(dict[str, Any]):
    """An output record as a dict of its model's fields, readable as attributes too.

    Busy streams skip pydantic: validating and dumping a large incident version cost
    ~75 us of Rust per version, a third of ``alertflow run`` in an alert storm. The
    fields are those of the stream's model (``schemas.outputs``); tests validate them.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(slots=True)  # not frozen: frozen init costs ~2x, once per sample
class Decision:
    """One output record and the inputs that caused it.

    ``inputs`` are the refs of the input records (``source:offset``), so a
    trace of the decision points at the exact messages behind it; ``read_ns``
    is when the newest of them was read, for in-job latency; ``traceparent`` is
    the W3C trace context of the decision's span when tracing is on (the Kafka sink
    sends it as a header). ``chain`` is the audit chain it joins when the step that
    made it names one: the state key that emitted it, whose output order is fixed
    (``operators.delivery.audit.partition_of``).
    """

    stream: str
    key: str
    record: BaseModel | dict[str, Any]  # a dict (or Record) on busy streams: a model's fields
    inputs: tuple[str, ...] = ()
    read_ns: int = 0
    traceparent: str | None = None
    chain: str | None = None

    def encode(self) -> bytes:
        """The record's JSON, as every sink writes it."""
        if isinstance(self.record, dict):
            return dumps(self.record)
        return self.record.model_dump_json().encode()

    def field(self, name: str) -> Any:
        """A field of the record, whichever form it has; None when absent."""
        if isinstance(self.record, dict):
            return self.record.get(name)
        return getattr(self.record, name, None)
