"""What operators hand to the outputs: a record for one output stream, with its provenance."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas.jsoncodec import dumps


@dataclass(slots=True)  # not frozen: frozen init costs ~2x, once per sample
class Decision:
    """One output record and the inputs that caused it.

    ``inputs`` are the refs of the input records (``source:offset``), so a
    trace of the decision points at the exact messages behind it; ``read_ns``
    is when the newest of them was read, for in-job latency.
    """

    stream: str
    key: str
    record: BaseModel | dict[str, Any]  # a dict only on per-sample streams, with a model's fields
    inputs: tuple[str, ...] = ()
    read_ns: int = 0

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
