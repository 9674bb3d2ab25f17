"""Online daily profile, used only while the series is measurably seasonal."""

import math

import numpy as np
from alertflow.operators.anomaly.compiled import (
    DAY_S,
    HEADER,
    CompiledDetector,
    N,
    clip_value,
    kernel,
    logistic_score,
    no_report,
    positive,
    rate,
    report,
    require,
    seconds,
)
from alertflow.operators.anomaly.robust_ewma import (
    LEVEL_SIZE,
    S,
    level_floor,
    level_init,
    level_learn,
)

# The profile's slots, relative to its segment of a state array; the bins follow.
OFF, SRES, ES, EL, MLONG, T0 = range(6)  # offset, residual MAD, strength's two errors, ...
PROFILE = 6


def seasonal_size(nbins: int) -> int:
    """Length of the profile's segment."""
    return PROFILE + nbins


def seasonal_reset(seas: np.ndarray) -> None:
    """Mark every bin as not yet visited."""
    seas[PROFILE:] = math.nan


@kernel
def seasonal_init(seas: np.ndarray, x: float, t: float) -> None:
    """Start the slow mean at the first value and the clock at its time (seconds)."""
    seas[MLONG] = x
    seas[T0] = t


@kernel
def seasonal_bin(t: float, nbins: int) -> int:
    """The time-of-day bin of ``t`` (epoch seconds, UTC)."""
    return int((t % DAY_S) / DAY_S * nbins) % nbins


@kernel
def seasonal_score(
    seas: np.ndarray, x: float, t: float, floor: float, seas_strength: float,
) -> tuple[float, bool, float, float]:
    """``(z, present, expected, scale)`` of ``x`` at time ``t``, before learning it.

    The profile is *present* once it has seen a day and its errors are at most
    ``1 - seas_strength`` of those of a flat mean (seasonal strength F).
    """
    b = seasonal_bin(t, seas.size - PROFILE)
    sm = seas[PROFILE + b]
    scale = max(seas[SRES], floor)
    present = (sm == sm and t - seas[T0] > DAY_S and seas[EL] > 0.0
               and 1.0 - seas[ES] / seas[EL] > seas_strength)
    if not present:
        return 0.0, False, math.nan, scale
    return abs(x - sm - seas[OFF]) / scale, True, sm + seas[OFF], scale


@kernel
def seasonal_score_near(
    seas: np.ndarray, x: float, t: float, floor: float, seas_strength: float, shift_s: float,
    huber: float,
) -> tuple[float, bool, float, float]:
    """``seasonal_score``, or that of ``t - shift_s`` or ``t + shift_s`` where it fits better.

    Only a value that is an outlier for its own time (``z > huber``) looks at the times
    beside it: a daily peak that comes an hour early or late is the usual peak, not an
    incident, while an ordinary value keeps its own bin's score (the best of three fits
    would make every value look closer than it is).
    """
    best = seasonal_score(seas, x, t, floor, seas_strength)
    if shift_s > 0.0 and best[1] and best[0] > huber:
        for u in (t - shift_s, t + shift_s):
            other = seasonal_score(seas, x, u, floor, seas_strength)
            if other[1] and other[0] < best[0]:
                best = other
    return best


@kernel
def seasonal_learn(
    seas: np.ndarray, x: float, t: float, n: int, floor: float,
    a_seas: float, a_off: float, a_sc: float, a_strength: float, huber: float,
) -> None:
    """Learn ``x`` at ``t``: its bin, the deseasonalised offset, and the strength averages."""
    b = seasonal_bin(t, seas.size - PROFILE)
    sm = seas[PROFILE + b]
    if sm != sm:
        seas[PROFILE + b] = x - seas[OFF]
    else:
        scale = max(seas[SRES], floor)
        es = x - sm - seas[OFF]
        lim = huber * scale if t - seas[T0] > DAY_S else math.inf
        esc = max(-lim, min(lim, es))
        seas[PROFILE + b] = sm + a_seas * esc
        # The offset takes what the bins do not: a level shift moves it, not every bin.
        seas[OFF] += a_off * (1.0 - a_seas) * esc
        seas[SRES] += max(a_sc, 1.0 / n) * (min(abs(es), lim) - seas[SRES])
        seas[ES] += a_strength * (abs(es) - seas[ES])
        seas[EL] += a_strength * (abs(x - seas[MLONG]) - seas[EL])
    seas[MLONG] += max(a_strength, 1.0 / n) * (x - seas[MLONG])


_LEVEL = HEADER
_SEAS = _LEVEL + LEVEL_SIZE
(_A_LOC, _A_SC, _A_LSC, _FLOOR, _HUBER, _A_SEAS, _A_OFF, _STRENGTH, _A_STRENGTH, _WARM,
 _ZT) = range(11)


@kernel
def _step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    t = seconds(ts_ns)
    level = state[_LEVEL:_SEAS]
    seas = state[_SEAS:]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        level_init(level, x)
        seasonal_init(seas, x, t)
        return no_report(state, 0.0)
    floor = level_floor(level, p[_FLOOR])
    level_scale = max(level[S], floor)
    z, present, expected, scale = seasonal_score(seas, x, t, floor, p[_STRENGTH])
    level_learn(level, x, n, level_scale, p[_A_LOC], p[_A_SC], p[_A_LSC], p[_HUBER])
    seasonal_learn(seas, x, t, n, floor, p[_A_SEAS], p[_A_OFF], p[_A_SC], p[_A_STRENGTH],
                   p[_HUBER])
    if n <= p[_WARM] or not present:
        return no_report(state, 0.0)
    return report(state, logistic_score(z, p[_ZT]), expected, p[_ZT] * scale)


@kernel
def _run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
         out: np.ndarray) -> None:
    for i in range(values.size):
        out[i] = _step(state, p, values[i], ts_ns[i])


class DailyProfile(CompiledDetector):
    """How far a value is from what this time of day usually looks like.

    ``nbins`` time-of-day bins (from the timestamp, so irregular or hourly data work
    unchanged) each learn at rate ``a_seas``; a deseasonalised offset (rate ``a_off``)
    lets a level shift through without relearning every bin. The profile only scores
    while it is *present*: after a day, and while its absolute error is at most
    ``1 - seas_strength`` of a flat mean's (both EW at rate ``a_strength``). Otherwise,
    and during warm-up, the score is 0. Score: a logistic of ``z - z_threshold``.

    >>> det = DailyProfile()
    >>> hour = 3600 * 10**9
    >>> for i in range(24 * 4):
    ...     det.learn_one(100.0 + 50.0 * (i % 24 >= 12) + (i % 5) * 0.1, i * hour)
    >>> round(det.score_one(150.0, 96 * hour + 14 * hour), 3)  # afternoon high: normal
    0.0
    >>> round(det.score_one(100.0, 96 * hour + 14 * hour), 3)  # the high went missing
    1.0
    """

    name = "seasonal"
    _step = staticmethod(_step)
    _run = staticmethod(_run)

    def __init__(
        self,
        nbins: int = 96,
        a_seas: float = 0.1,
        a_off: float = 0.02,
        seas_strength: float = 0.5,
        a_strength: float = 0.005,
        a_loc: float = 0.02,
        a_sc: float = 0.02,
        a_lsc: float = 0.002,
        floor_frac: float = 0.2,
        huber: float = 3.0,
        warmup: int = 30,
        z_threshold: float = 4.0,
    ) -> None:
        self.nbins = nbins
        self.a_seas = a_seas
        self.a_off = a_off
        self.seas_strength = seas_strength
        self.a_strength = a_strength
        self.a_loc = a_loc
        self.a_sc = a_sc
        self.a_lsc = a_lsc
        self.floor_frac = floor_frac
        self.huber = huber
        self.warmup = warmup
        self.z_threshold = z_threshold
        super().__init__()

    def _pack_params(self) -> np.ndarray:
        require(1 <= self.nbins <= 1440, "nbins", "1 to 1440 bins per day", self.nbins)
        require(self.warmup >= 1, "warmup", "at least 1 sample", self.warmup)
        require(self.floor_frac >= 0, "floor_frac", "a fraction >= 0", self.floor_frac)
        return np.array([
            rate("a_loc", self.a_loc), rate("a_sc", self.a_sc), rate("a_lsc", self.a_lsc),
            self.floor_frac, positive("huber", self.huber), rate("a_seas", self.a_seas),
            rate("a_off", self.a_off), self.seas_strength, rate("a_strength", self.a_strength),
            self.warmup, positive("z_threshold", self.z_threshold),
        ])

    def _state_size(self) -> int:
        return _SEAS + seasonal_size(self.nbins)

    def _initial_state(self) -> np.ndarray:
        state = super()._initial_state()
        seasonal_reset(state[_SEAS:])
        return state
