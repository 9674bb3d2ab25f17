"""Decide, per notification, which receivers get it and whether a silence holds it back.

The labels routes and silences match on: ``severity``, ``kind``, ``domain``,
``root_cause``, ``incident_id``, ``service`` (any of the incident's services) and every
label the incident's alerts share (``team``, ``namespace``, ...).
"""

from collections.abc import Callable
from datetime import datetime

from alertflow.operators.delivery.matchers import Labels
from alertflow.operators.delivery.routing import RoutingTree
from alertflow.operators.delivery.silences import Suppressions
from alertflow.schemas.outputs import Notification


def labels_of(note: Notification) -> Labels:
    """The labels a notification is routed and silenced by; several values for ``service``."""
    labels: dict[str, tuple[str, ...]] = {k: (v,) for k, v in note.labels.items()}
    labels.update(
        severity=(note.severity,),
        kind=(note.kind,),
        incident_id=(note.incident_id,),
        service=tuple(note.services),
    )
    if note.domain is not None:
        labels["domain"] = (note.domain,)
    if note.root_cause is not None:
        labels["root_cause"] = (note.root_cause,)
    return labels


class Dispatcher:
    """Routes and silences notifications; the suppressions may change while the flow runs."""

    def __init__(self, tree: RoutingTree, suppressions: Callable[[], Suppressions]) -> None:
        self._tree = tree
        self._suppressions = suppressions

    def dispatch(self, note: Notification) -> Notification:
        """The notification with its ``receivers`` and, when held back, ``suppressed_by``."""
        labels = labels_of(note)
        at = datetime.fromisoformat(note.ts)
        # A page the feedback step already held back stays held, with its reason.
        held = note.suppressed_by or self._suppressions().why_held(at, labels)
        return note.model_copy(
            update={"receivers": list(self._tree.receivers(labels)), "suppressed_by": held}
        )
