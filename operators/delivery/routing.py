"""The routing tree: which receivers a notification goes to (Alertmanager's semantics).

>>> from alertflow.schemas.config_notify import RouteConfig
>>> tree = RoutingTree(RouteConfig.model_validate({
...     "receiver": "default",
...     "routes": [
...         {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
...         {"matchers": ["service=~db-.*"], "receiver": "dba"},
...     ],
... }))
>>> tree.receivers({"severity": ("critical",), "service": ("db-users", "api")})
('pager', 'dba')
>>> tree.receivers({"severity": ("warning",), "service": ("api",)})
('default',)
"""

from dataclasses import dataclass

from alertflow.operators.delivery.matchers import Labels, Matcher, all_match, parse_all
from alertflow.schemas.config_notify import RouteConfig


@dataclass(frozen=True, slots=True)
class _Node:
    receiver: str | None
    matchers: tuple[Matcher, ...]
    keep_going: bool
    children: tuple["_Node", ...]


class RoutingTree:
    """Routes compiled once from the config; ``receivers`` walks them per notification."""

    def __init__(self, config: RouteConfig) -> None:
        self._root = _compile(config, inherited=None)

    def receivers(self, labels: Labels) -> tuple[str, ...]:
        """Receiver names in route order, each once; empty when no route has a receiver."""
        found: list[str] = []
        _walk(self._root, labels, found)
        return tuple(dict.fromkeys(found))


def _compile(config: RouteConfig, inherited: str | None) -> _Node:
    receiver = config.receiver or inherited
    children = tuple(_compile(child, receiver) for child in config.routes)
    return _Node(receiver, parse_all(config.matchers), config.continue_, children)


def _walk(node: _Node, labels: Labels, found: list[str]) -> bool:
    if not all_match(node.matchers, labels):
        return False
    taken = False
    for child in node.children:
        if _walk(child, labels, found):
            taken = True
            if not child.keep_going:
                break
    if not taken and node.receiver is not None:
        found.append(node.receiver)
    return True
