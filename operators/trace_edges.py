"""Calls along an edge ``caller -> callee``: client spans joined to the server spans they caused.

A client span says who called and how long the caller waited; the server span
whose parent it is says whom. The two usually come from different services
(and messages), so they meet here, keyed by trace: whichever arrives first
waits, bounded, for the other. A client span that names its callee in
``peer.service`` (the OpenTelemetry convention) needs no partner. The call is
judged from the caller's side: the client span's duration and error status.
"""

import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from alertflow.schemas.records import SpanEvent, pickled_by_fields

PEER_SERVICE = "peer.service"
_CALLER_KINDS = ("client", "producer")
_CALLEE_KINDS = ("server", "consumer")


@pickled_by_fields
@dataclass(slots=True, frozen=True)
class EdgeCall:
    """One call from ``service`` (the caller) to ``callee``, as the caller saw it."""

    service: str
    callee: str
    start_ns: int
    duration_ns: int
    is_error: bool
    attributes: dict[str, str] = field(default_factory=dict)  # the caller's resource
    ref: str = ""


def trace_shard(span: SpanEvent, shards: int) -> str:
    """The join's key: spans of one trace meet in one shard.

    >>> trace_shard(SpanEvent("4bf92f3577b34da6", "s", "", "cart", "GET", "server", 0, 1, False), 8)
    '7'
    """
    return str(zlib.crc32(span.trace_id.encode()) % shards)


class EdgeJoin:
    """Pairs client spans with their server spans; at most ``max_pending`` wait on each side.

    >>> join = EdgeJoin()
    >>> join.add([SpanEvent("t", "b1", "a1", "cart", "GET /", "server", 2, 4, False)])
    []
    >>> [(c.service, c.callee, c.duration_ns) for c in join.add(
    ...     [SpanEvent("t", "a1", "w1", "web", "GET /", "client", 1, 6, True)])]
    [('web', 'cart', 5)]
    """

    def __init__(self, max_pending: int = 20_000) -> None:
        self.max_pending = max_pending
        self.clients: OrderedDict[str, SpanEvent] = OrderedDict()  # by span id
        self.servers: OrderedDict[str, str] = OrderedDict()  # parent span id -> callee
        self.unpaired = 0  # spans pushed out before their partner came

    def add(self, spans: Iterable[SpanEvent]) -> list[EdgeCall]:
        """Fold spans in; return the calls they complete."""
        out: list[EdgeCall] = []
        for span in spans:
            if span.kind in _CALLER_KINDS:
                peer = span.attributes.get(PEER_SERVICE)
                callee = peer or self.servers.pop(span.span_id, None)
                if callee is not None:
                    out.append(_call(span, callee))
                else:
                    self._hold(self.clients, span.span_id, span)
            elif span.kind in _CALLEE_KINDS and span.parent_span_id:
                client = self.clients.pop(span.parent_span_id, None)
                if client is not None:
                    out.append(_call(client, span.service))
                else:
                    self._hold(self.servers, span.parent_span_id, span.service)
        return [call for call in out if call.service != call.callee]

    def _hold(self, pending: OrderedDict, key: str, value: object) -> None:
        pending[key] = value
        if len(pending) > self.max_pending:
            pending.popitem(last=False)
            self.unpaired += 1


def _call(client: SpanEvent, callee: str) -> EdgeCall:
    return EdgeCall(
        service=client.service,
        callee=callee,
        start_ns=client.start_ns,
        duration_ns=max(0, client.end_ns - client.start_ns),
        is_error=client.is_error,
        attributes=client.attributes,
        ref=client.ref,
    )
