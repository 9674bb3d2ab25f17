"""What every detector of this package shares: a flat state array and compiled kernels.

Why numba: each model here is a recursion (a sample's state depends on the one before),
so numpy cannot vectorise it, and in pure Python the ensemble costs ~4.9 µs per sample
(the prototype: 121,702 NAB samples in 0.59 s). The same arithmetic as numba kernels,
bit for bit, costs 0.19 µs per sample over an array (``update_many``), 0.49 µs through
one Python call per sample (``update``) and 0.9 µs as ``score_one`` + ``learn_one``;
River's HalfSpaceTrees (defaults, behind a MinMaxScaler) costs 17.5 µs on the same data
(``bench/detector_cost.py``, 200k samples, 2-core Xeon). The kernels are ``cache=True``:
the first process after an edit compiles the package (~6 s here); later ones load the
machine code in ~0.2 s.

A detector's learned state is one float64 array of fixed size (a few hundred bytes to
~1.3 KB), so a snapshot of a series is that array's bytes plus the settings. Slots 0-4
are the same in every detector: samples learned, then the last score and the expectation
(expected value, lower, upper) it was scored against.
"""

import abc
import inspect
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numba
import numpy as np
from alertflow.operators.anomaly.base import AnomalyDetector, DetectorError, Expectation

N, SCORE, EXPECTED, LOWER, UPPER = range(5)
HEADER = 5

# The first samples teach the models their scale; clipping them would freeze a bad guess.
UNCLIPPED = 30
DAY_S = 86400.0
# Beyond this magnitude values are clipped: far outside any metric, and every sum stays finite.
VALUE_LIMIT = 1e150
_NS_PER_S = 1_000_000_000


def _package_stamp() -> tuple[tuple[str, int, int], ...]:
    # numba keys a kernel's disk cache on its own file only (a documented limitation), but
    # the ensemble's kernel compiles in every component's functions: fold in the whole package.
    here = Path(__file__).parent
    stamps = []
    for path in sorted(here.glob("*.py")):
        st = path.stat()
        stamps.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(stamps)


_STAMP = _package_stamp()


def kernel(func: Callable) -> Callable:
    """``numba.njit(cache=True)``, with the cache invalidated by any edit in this package.

    numpy's error model: a division by zero gives inf or NaN instead of raising. No
    kernel divides by zero (every scale is floored), and it spares a branch per division.
    The stamp sits in a private numba attribute; should it move, caching still works,
    only without this guard.
    """
    dispatcher = numba.njit(cache=True, error_model="numpy")(func)
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = (cache_file._source_stamp, _STAMP)
    return dispatcher


@kernel
def clip_value(x: float) -> float:
    """``x`` limited to ±VALUE_LIMIT."""
    return max(-VALUE_LIMIT, min(VALUE_LIMIT, x))


@kernel
def seconds(ts_ns: int) -> float:
    """Epoch nanoseconds as float seconds, exact for whole seconds."""
    return float(ts_ns // _NS_PER_S) + float(ts_ns % _NS_PER_S) * 1e-9


@kernel
def logistic_score(z: float, z_threshold: float) -> float:
    """0.5 at ``z_threshold``, near 1 a few units beyond, 0 far below."""
    excess = z - z_threshold
    if excess < -20.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-2.0 * excess))


@kernel
def evidence_score(evidence: float, out_scale: float) -> float:
    """Evidence in log10 units mapped monotonically onto [0, 1)."""
    return 1.0 - math.exp(-max(evidence, 0.0) / out_scale)


@kernel
def report(state: np.ndarray, score: float, expected: float, half_band: float) -> float:
    """Record the score and the band it was judged against; returns ``score``."""
    state[SCORE] = score
    state[EXPECTED] = expected
    state[LOWER] = expected - half_band
    state[UPPER] = expected + half_band
    return score


@kernel
def report_band(state: np.ndarray, score: float, expected: float, lower: float,
                upper: float) -> float:
    """Record the score and an explicit (possibly asymmetric) band; returns ``score``."""
    state[SCORE] = score
    state[EXPECTED] = expected
    state[LOWER] = lower
    state[UPPER] = upper
    return score


@kernel
def no_report(state: np.ndarray, score: float) -> float:
    """Record a score that has no expectation behind it (warm-up, calibrators)."""
    state[SCORE] = score
    state[EXPECTED] = math.nan
    state[LOWER] = math.nan
    state[UPPER] = math.nan
    return score


@cache
def _setting_names(cls: type) -> tuple[str, ...]:
    params = inspect.signature(cls.__init__).parameters
    return tuple(name for name in params if name != "self")


class CompiledDetector(AnomalyDetector):
    """A detector whose per-sample work is a numba kernel over ``self.state``.

    Subclasses store their constructor arguments under the same names, then call
    ``super().__init__()``; they provide ``_step(state, params, x, ts_ns) -> score``
    (score, then learn) and ``_run(state, params, values, ts_ns, out)`` (the same over
    arrays) as module-level kernels, plus ``_pack_params`` and ``_state_size``.
    """

    _step: ClassVar[Callable[..., float]]
    _run: ClassVar[Callable[..., None]]
    warmup: int = 0

    def __init__(self) -> None:
        self._params = self._pack_params()
        self.state = self._initial_state()
        self._pending: tuple[float, int, np.ndarray] | None = None

    @abc.abstractmethod
    def _pack_params(self) -> np.ndarray:
        """The settings as the kernel's float64 parameter array (validated)."""

    @abc.abstractmethod
    def _state_size(self) -> int:
        """Length of the state array for these settings."""

    def _initial_state(self) -> np.ndarray:
        state = np.zeros(self._state_size())
        state[EXPECTED:HEADER] = math.nan
        return state

    # ------------------------------------------------------------------ scoring
    def update(self, value: float, ts_ns: int) -> float:
        """Score ``value``, then learn it: one kernel call."""
        self._pending = None
        return self._step(self.state, self._params, float(value), int(ts_ns))

    def update_many(self, values: np.ndarray, ts_ns: np.ndarray | None = None) -> np.ndarray:
        """``update`` over whole arrays in one kernel call; returns the scores.

        ``ts_ns`` are epoch nanoseconds (int64 or datetime64); None means no clock, which
        turns off what needs one (the daily profile). Non-finite values score 0 and are
        not learned. The inputs are not modified.
        """
        x = np.ascontiguousarray(values, dtype=np.float64)
        if ts_ns is None:
            t = np.zeros(x.shape, dtype=np.int64)
        else:
            t = np.asarray(ts_ns)
            if t.dtype.kind == "M":
                t = t.astype("datetime64[ns]").view(np.int64)
            t = np.ascontiguousarray(t, dtype=np.int64)
        # A read-only array is another type to numba: it would compile the kernel again.
        x = x if x.flags.writeable else x.copy()
        t = t if t.flags.writeable else t.copy()
        if x.ndim != 1 or t.shape != x.shape:
            raise DetectorError(
                f"update_many: expected two 1-d arrays of one length, got values {x.shape} "
                f"and ts_ns {t.shape}"
            )
        out = np.empty(x.size)
        self._pending = None
        self._run(self.state, self._params, x, t, out)
        return out

    def score_one(self, value: float, ts_ns: int) -> float:
        """Score ``value`` on a copy of the state; the state itself does not change."""
        scratch = self.state.copy()
        x, t = float(value), int(ts_ns)
        score = self._step(scratch, self._params, x, t)
        # learn_one of the same sample adopts this copy instead of running the kernel again.
        self._pending = (x, t, scratch)
        return score

    def learn_one(self, value: float, ts_ns: int) -> None:
        """Learn ``value``."""
        pending, self._pending = self._pending, None
        x, t = float(value), int(ts_ns)
        if pending is not None and pending[1] == t and _same_float(pending[0], x):
            self.state = pending[2]
        else:
            self._step(self.state, self._params, x, t)

    # ------------------------------------------------------------------ reporting
    def _reported(self) -> np.ndarray:
        """The state holding the last scored sample's report (a pending score's copy)."""
        return self.state if self._pending is None else self._pending[2]

    @property
    def n(self) -> int:
        """Finite samples learned."""
        return int(self.state[N])

    @property
    def warmed_up(self) -> bool:
        """Whether ``warmup`` samples have been learned, so the next one is scored."""
        return self.n >= self.warmup

    def expectation(self) -> Expectation | None:
        """The expected value and normal band the last scored sample was judged against."""
        st = self._reported()
        if math.isnan(st[EXPECTED]):
            return None
        return Expectation(float(st[EXPECTED]), float(st[LOWER]), float(st[UPPER]))

    def contributors(self) -> list[str]:
        """The channels behind the last score: this detector's name if it scored above 0."""
        return [self.name] if self._reported()[SCORE] > 0.0 else []

    # ------------------------------------------------------------------ snapshots
    def __getstate__(self) -> tuple[tuple[Any, ...], bytes]:
        # Settings by position and the state's raw bytes: ~40% smaller than the attributes.
        settings = tuple(getattr(self, name) for name in _setting_names(type(self)))
        return settings, self.state.tobytes()

    def __setstate__(self, snapshot: tuple[tuple[Any, ...], bytes]) -> None:
        settings, raw = snapshot
        params = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        if len(settings) > len(params):
            raise DetectorError(f"{type(self).__name__} snapshot: {len(settings)} settings, "
                                f"expected at most {len(params)}")
        # A snapshot written before a setting was appended lacks it: it gets its default
        # (every added capability defaults to off, so the state's layout is unchanged).
        for i, param in enumerate(params):
            setattr(self, param.name, settings[i] if i < len(settings) else param.default)
        self._params = self._pack_params()
        self.state = np.frombuffer(raw, dtype=np.float64).copy()
        self._pending = None
        if self.state.size != self._state_size():
            raise DetectorError(
                f"{type(self).__name__} snapshot: expected {self._state_size()} state values, "
                f"got {self.state.size}"
            )


def _same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def require(condition: bool, setting: str, expected: str, value: object) -> None:
    """Raise a DetectorError naming the setting when ``condition`` is false."""
    if not condition:
        raise DetectorError(f"{setting}: expected {expected}, got {value!r}")


def rate(name: str, value: float) -> float:
    """Validate a learning rate in (0, 1]."""
    require(0.0 < value <= 1.0, name, "a rate in (0, 1]", value)
    return float(value)


def positive(name: str, value: float) -> float:
    """Validate a positive setting."""
    require(value > 0.0, name, "a positive number", value)
    return float(value)

