"""Old module paths of the correlation code, kept importable so old snapshots still load.

Bytewax recovery snapshots pickle the correlator's state, and pickle names each
class by module path. The correlation modules used to live flat in
``alertflow.operators`` (``alertflow.operators.incidents`` and so on); a snapshot
written before the move names those paths. Rather than keep a stub file per old
module, this finder answers an import of an old path with the module now at
``alertflow.operators.correlation.<name>``, so ``pickle`` finds every class
there (the new modules re-export the classes they used to define).
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

OLD_PREFIX = "alertflow.operators."
NEW_PREFIX = "alertflow.operators.correlation."
MOVED = frozenset({
    "alert_clusters", "alert_dedup", "anomaly_dedup", "correlator", "fault_relation",
    "incident_merge", "incident_render", "incidents", "inhibition", "member_bound",
    "rank_moves", "reorder", "rootcause", "session_index", "topology",
})


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path as the module at its new path (the same object)."""

    def __init__(self, new_name: str) -> None:
        self._new_name = new_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self._new_name)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is already executed."""


class LegacyPathFinder(importlib.abc.MetaPathFinder):
    """Maps ``alertflow.operators.<moved>`` to ``alertflow.operators.correlation.<moved>``."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        """A spec for an old correlation path; None for every other name."""
        if not fullname.startswith(OLD_PREFIX):
            return None
        name = fullname[len(OLD_PREFIX):]
        if name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(NEW_PREFIX + name))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (after the normal finders)."""
    if not any(isinstance(f, LegacyPathFinder) for f in sys.meta_path):
        sys.meta_path.append(LegacyPathFinder())
