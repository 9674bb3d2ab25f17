"""Snapshots taken before a field existed still load: missing fields get their defaults.

A slots dataclass pickles as its set slots; one restored from a snapshot written before a
field was added would lack that slot and fail on first use, so an upgrade with recovery
would crash the job. :class:`Restorable`'s ``__setstate__`` fills every field with its
default first, then applies what the snapshot holds; :func:`upgrade` does the same for
the state object of a step against one this code builds.
"""

from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

_T = TypeVar("_T")


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


_DEPTH = 6  # state objects nest a few levels (correlator -> grouper -> settings)


def upgrade(old: _T, fresh: _T) -> _T:
    """``old``, restored from a snapshot, given what it lacks from ``fresh``, built by this code.

    A snapshot written before an attribute existed restores without it, and the first
    use fails: an upgrade that resumes from its recovery store crashed the job. Every
    attribute ``fresh`` has and ``old`` lacks is copied over, and nested objects of
    ours of the same class are upgraded the same way (settings inside a grouper inside
    a correlator). Attributes a class names in ``configured_attributes`` always come
    from ``fresh``: they hold the job's settings, and a restart with a changed
    configuration must apply it. Objects inside collections are not reached: their
    classes use :class:`Restorable`, or the caller upgrades them with :func:`upgrade_each`.

    >>> class Box:
    ...     def __init__(self):
    ...         self.items, self.limit = [], 10
    >>> old = Box.__new__(Box)
    >>> old.__dict__.update({"items": [1]})  # written before ``limit`` existed
    >>> vars(upgrade(old, Box()))
    {'items': [1], 'limit': 10}
    """
    _fill(old, fresh, 0)
    return old


def resumed(state: _T | None, fresh: _T) -> _T:
    """A step's state: ``fresh`` for a new key, or the snapshot upgraded against it."""
    return fresh if state is None else upgrade(state, fresh)


def upgrade_each(olds: Iterable[_T], build: Callable[[_T], _T]) -> int:
    """Upgrade every object of a collection against ``build(obj)``; how many were upgraded.

    The objects of one collection were pickled by one version of the code, so when
    the first lacks nothing, none does, and nothing is built for the others.
    """
    olds = list(olds)
    if not olds or not _lacks(olds[0], build(olds[0]), 0):
        return 0
    for old in olds:
        _fill(old, build(old), 0)
    return len(olds)


def _ours(obj: object) -> bool:
    return type(obj).__module__.startswith(("alertflow.", "operators.", "dataflows."))


def _names(obj: object) -> list[str]:
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names.extend((slots,) if isinstance(slots, str) else slots)
    return [n for n in names if n not in ("__dict__", "__weakref__") and hasattr(obj, n)]


def _fill(old: object, fresh: object, depth: int) -> None:
    if depth > _DEPTH or type(old) is not type(fresh) or (depth and not _ours(old)):
        return
    configured = getattr(type(old), "configured_attributes", ())
    for name in _names(fresh):
        if name in configured or not hasattr(old, name):
            object.__setattr__(old, name, getattr(fresh, name))  # frozen dataclasses too
        else:
            _fill(getattr(old, name), getattr(fresh, name), depth + 1)


def _lacks(old: object, fresh: object, depth: int) -> bool:
    if depth > _DEPTH or type(old) is not type(fresh) or (depth and not _ours(old)):
        return False
    return any(
        not hasattr(old, name) or _lacks(getattr(old, name), getattr(fresh, name), depth + 1)
        for name in _names(fresh)
    )
