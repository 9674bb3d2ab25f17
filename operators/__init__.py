"""Engine-agnostic stateful logic: plain classes with explicit, picklable state.

Nothing under ``operators`` imports bytewax; tests drive these classes directly
with injected time.
"""

from alertflow.operators.correlation import legacy_paths as _legacy_paths

_legacy_paths.install()  # snapshots pickled before correlation/ existed name the old paths
