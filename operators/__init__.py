"""Engine-agnostic stateful logic: plain classes with explicit, picklable state.

Nothing under ``operators`` imports bytewax; tests drive these classes directly
with injected time.
"""
