"""Snapshots taken before a field existed still load: missing fields get their defaults.

A slots dataclass pickles as its set slots; one restored from a snapshot written before a
field was added would lack that slot and fail on first use, so an upgrade with recovery
would crash the job. :class:`Restorable`'s ``__setstate__`` fills every field with its
default first, then applies what the snapshot holds.
"""

from dataclasses import MISSING, fields
from typing import Any


class Restorable:
    """Mix into a ``@dataclass(slots=True)`` whose instances live in snapshots.

    >>> from dataclasses import dataclass
    >>> @dataclass(slots=True)
    ... class Thing(Restorable):
    ...     name: str
    ...     count: int = 0
    >>> t = Thing.__new__(Thing)
    >>> t.__setstate__((None, {"name": "old"}))  # written before ``count`` existed
    >>> t
    Thing(name='old', count=0)
    """

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        extra, slots = state if isinstance(state, tuple) else (state, None)
        held = {**(extra or {}), **(slots or {})}
        derived = False  # a field __post_init__ computes is missing: compute it again
        for f in fields(self):  # type: ignore[arg-type]
            if f.name in held:
                object.__setattr__(self, f.name, held[f.name])
                continue
            derived = derived or not f.init
            if f.default is not MISSING:
                object.__setattr__(self, f.name, f.default)
            elif f.default_factory is not MISSING:
                object.__setattr__(self, f.name, f.default_factory())
        if derived and hasattr(self, "__post_init__"):
            self.__post_init__()
