"""The ensemble's per-sample kernel: the state layout and one step of score-then-learn.

:mod:`ensemble` says what the step does and holds the detector class around it; this file
keeps the arithmetic (numba kernels) and the slots it reads, so each file stays readable.
"""

import math

import numpy as np
from alertflow.operators.anomaly.cadence import CLOCK_SIZE, INTERVAL, clock_init, samples_in
from alertflow.operators.anomaly.compiled import (
    HEADER,
    N,
    clip_value,
    kernel,
    no_report,
    report_band,
    seconds,
)
from alertflow.operators.anomaly.distribution import DIST_SIZE, dist_evidence, dist_init, dist_learn
from alertflow.operators.anomaly.drift import (
    DRIFT_SIZE,
    drift_init,
    drift_learn,
    drift_restart,
)
from alertflow.operators.anomaly.holt import (
    HOLT_SIZE,
    HS,
    B,
    L,
    holt_forecast,
    holt_init,
    holt_learn,
)
from alertflow.operators.anomaly.level_shift import SHIFT_SIZE, shift_init, shift_learn
from alertflow.operators.anomaly.likelihood import (
    RAWS,
    SHORT_SIZE,
    likelihood_evidence,
    likelihood_learn,
    likelihood_short,
)
from alertflow.operators.anomaly.peak import PEAK_SIZE, peak_calibrate, peak_init
from alertflow.operators.anomaly.range_detector import (
    HI,
    LO,
    RANGE_SIZE,
    range_fired,
    range_init,
    range_learn,
)
from alertflow.operators.anomaly.resolution import (
    RESOLUTION_SIZE,
    resolution_floor,
    resolution_init,
    resolution_learn,
)
from alertflow.operators.anomaly.robust_ewma import (
    LEVEL_SIZE,
    M,
    S,
    level_floor,
    level_init,
    level_learn,
)
from alertflow.operators.anomaly.seasonal import (
    seasonal_init,
    seasonal_learn,
    seasonal_score_near,
)
from alertflow.operators.anomaly.stuck import STUCK_SIZE, stuck_init, stuck_learn
from alertflow.operators.anomaly.suppression import PAIR_SIZE, suppress_pair
from alertflow.operators.anomaly.volatility import VOL_SIZE, volatility_learn
from alertflow.operators.anomaly.weekly import (
    WEEK_SIZE,
    weekly_init,
    weekly_learn,
    weekly_offset,
)

# What the last sample's score was made of, for contributors().
E_LIK, E_RANGE, MODEL, SHIFTED = HEADER, HEADER + 1, HEADER + 2, HEADER + 3
LEVEL_MODEL, HOLT_MODEL, SEASONAL_MODEL = 0.0, 1.0, 2.0
_MODEL_NAMES = {LEVEL_MODEL: "level", HOLT_MODEL: "holt", SEASONAL_MODEL: "seasonal"}

# Fixed-size segments first; the likelihood's ring and the profile's bins depend on settings.
_LEVEL = HEADER + 4
_HOLT = _LEVEL + LEVEL_SIZE
_SHIFT = _HOLT + HOLT_SIZE
_RANGE = _SHIFT + SHIFT_SIZE
_SUP = _RANGE + RANGE_SIZE
_CLOCK = _SUP + PAIR_SIZE
_DIST = _CLOCK + CLOCK_SIZE
_GRAIN = _DIST + DIST_SIZE
_WEEK = _GRAIN + RESOLUTION_SIZE
_VOL = _WEEK + WEEK_SIZE
_PEAK = _VOL + VOL_SIZE
_SHORT = _PEAK + PEAK_SIZE
_LIK = _SHORT + SHORT_SIZE

SETTINGS = (
    "a_loc", "a_sc", "a_lsc", "floor_frac", "huber", "holt_a", "holt_b", "nbins", "a_seas",
    "a_off", "seas_strength", "a_strength", "cusum_k", "cusum_h", "range_tol",
    "range_evidence", "lik_window", "a_lik", "zcap", "warmup", "sup_tau", "sup_margin",
    "sup_mult", "sup_damp", "sup_cross", "out_scale", "lik_span_s", "rarity_period_s",
    "dist_weight", "a_dist", "sup_tau_s", "grain_frac", "range_mature", "week_days",
    "week_strength", "vol_weight", "vol_span_s", "sup_quiet_s", "seas_recall", "peak_recall",
    "lik_short_s", "seas_shift_s", "stuck_weight",
    "drift_weight",
)
(A_LOC, A_SC, A_LSC, FLOOR_FRAC, HUBER, HOLT_A, HOLT_B, NBINS, A_SEAS, A_OFF, SEAS_STRENGTH,
 A_STRENGTH, CUSUM_K, CUSUM_H, RANGE_TOL, RANGE_EVIDENCE, LIK_WINDOW, A_LIK, ZCAP, WARMUP,
 SUP_DECAY, SUP_MARGIN, SUP_MULT, SUP_DAMP, SUP_CROSS, OUT_SCALE, LIK_SPAN_S, RARITY_PERIOD_S,
 DIST_WEIGHT, A_DIST, SUP_TAU_S, GRAIN_FRAC, RANGE_MATURE, WEEK_DAYS, WEEK_STRENGTH,
 VOL_WEIGHT, VOL_SPAN_S, SUP_QUIET_S, SEAS_RECALL, PEAK_RECALL,
 LIK_SHORT_S, SEAS_SHIFT_S, STUCK_WEIGHT,
 DRIFT_WEIGHT) = range(len(SETTINGS))
# Evidence below this (a 1-in-10 surprise) is "nothing unusual" for sup_quiet_s.
QUIET = 1.0


@kernel
def ensemble_step(state: np.ndarray, p: np.ndarray, x: float, ts_ns: int) -> float:
    """Score ``x`` at ``ts_ns`` with every model, then let every model learn it."""
    if not math.isfinite(x):
        return 0.0
    x = clip_value(x)
    t = seconds(ts_ns)
    seas_at = _LIK + RAWS + int(p[LIK_WINDOW])
    level = state[_LEVEL:_HOLT]
    holt = state[_HOLT:_SHIFT]
    shift = state[_SHIFT:_RANGE]
    rng = state[_RANGE:_SUP]
    sup = state[_SUP:_CLOCK]
    clock = state[_CLOCK:_DIST]
    dist = state[_DIST:_GRAIN]
    grain = state[_GRAIN:_WEEK]
    week = state[_WEEK:_VOL]
    vol = state[_VOL:_PEAK]
    peak = state[_PEAK:_SHORT]
    short = state[_SHORT:_LIK]
    lik = state[_LIK:seas_at]
    # Channels that are off by default sit after the profile, only when on (the layout of
    # a series without them does not change).
    drift_at = state.size - DRIFT_SIZE if p[DRIFT_WEIGHT] > 0.0 else state.size
    stuck_at = drift_at - STUCK_SIZE if p[STUCK_WEIGHT] > 0.0 else drift_at
    seas = state[seas_at:stuck_at]
    stuck = state[stuck_at:drift_at]
    drift = state[drift_at:]
    n = int(state[N]) + 1
    state[N] = n
    if n == 1:
        level_init(level, x)
        holt_init(holt, x)
        range_init(rng, x)
        seasonal_init(seas, x, t)
        shift_init(shift, x)
        dist_init(dist, x)
        clock_init(clock, t)
        resolution_init(grain, x)
        weekly_init(week, t)
        peak_init(peak, t)
        if p[STUCK_WEIGHT] > 0.0:
            stuck_init(stuck, x, t)
        if p[DRIFT_WEIGHT] > 0.0:
            drift_init(drift, x, t)
        return no_report(state, 0.0)

    # ---- score: nothing has learnt x yet; the forecasts see the week-free value xw
    weekly = weekly_offset(week, t, p[WEEK_STRENGTH]) if p[WEEK_DAYS] > 0.0 else 0.0
    xw = x - weekly
    floor = max(level_floor(level, p[FLOOR_FRAC]), resolution_floor(grain, p[GRAIN_FRAC]))
    s = max(level[S], floor)
    m = level[M]
    z_level = abs(xw - m) / s
    forecast = holt_forecast(holt)
    hs = max(holt[HS], floor)
    z_holt = abs(xw - forecast) / hs
    z_seas, present, seas_expected, ss = seasonal_score_near(
        seas, xw, t, floor, p[SEAS_STRENGTH], p[SEAS_SHIFT_S], p[HUBER])
    if not present and p[SEAS_RECALL] > 0.0:
        # A value usual for this time of day (a nightly batch, a daily peak) is no news,
        # even where the profile is too weak overall to forecast with.
        z_seas, present, seas_expected, ss = seasonal_score_near(
            seas, xw, t, floor, p[SEAS_STRENGTH] * (1.0 - p[SEAS_RECALL]), p[SEAS_SHIFT_S],
            p[HUBER])
        present = present and z_seas < min(z_level, z_holt)
    if present:
        z, model, expected, scale = z_seas, SEASONAL_MODEL, seas_expected, ss
    elif z_holt < z_level:
        z, model, expected, scale = z_holt, HOLT_MODEL, forecast, hs
    else:
        z, model, expected, scale = z_level, LEVEL_MODEL, m, s
    tol = p[RANGE_TOL]
    if n < p[RANGE_MATURE]:
        # The range of n samples is beaten by the next with odds ~2/n: a young range needs
        # a wider margin, or the end of warm-up fires on every series at once.
        tol *= math.sqrt(p[RANGE_MATURE] / n)
    fired = n > p[WARMUP] and range_fired(rng, x, tol)
    lo_seen, hi_seen = rng[LO], rng[HI]  # the range x is judged against, before it learns x
    e_dist = dist_evidence(dist, x) if p[DIST_WEIGHT] > 0.0 else 0.0

    # ---- learn
    if p[WEEK_DAYS] > 0.0:  # off by default: no work on the hot path for it
        weekly_learn(week, t, x - expected, scale, clock[INTERVAL], p[WEEK_DAYS],
                     p[A_STRENGTH], p[HUBER])
    e_vol = 0.0
    if p[VOL_WEIGHT] > 0.0:
        e_vol = p[VOL_WEIGHT] * volatility_learn(vol, xw - expected, p[ZCAP] * scale, floor,
                                                 n, clock[INTERVAL], p[VOL_SPAN_S])
    if p[STUCK_WEIGHT] > 0.0:
        e_vol = max(e_vol, p[STUCK_WEIGHT] * stuck_learn(stuck, x, t, clock[INTERVAL]))
    e_drift = 0.0
    if p[DRIFT_WEIGHT] > 0.0:
        e_drift = p[DRIFT_WEIGHT] * drift_learn(drift, xw, t, n, clock[INTERVAL], floor)
    expected += weekly
    d = level_learn(level, xw, n, s, p[A_LOC], p[A_SC], p[A_LSC], p[HUBER])
    holt_learn(holt, xw, n, hs, p[HOLT_A], p[HOLT_B], p[A_SC], p[HUBER])
    seasonal_learn(seas, xw, t, n, floor, p[A_SEAS], p[A_OFF], p[A_SC], p[A_STRENGTH],
                   p[HUBER])
    range_learn(rng, x)
    resolution_learn(grain, x)
    restart = shift_learn(shift, xw, d / s, n, p[CUSUM_K], p[CUSUM_H])
    # Reported only when the level really moves: one huge spike also alarms the CUSUM,
    # but the recent median it restarts from is then the old level.
    state[SHIFTED] = 0.0
    if restart == restart:  # a level shift: it is the new normal
        if abs(restart - level[M]) > p[HUBER] * s:
            state[SHIFTED] = 1.0
            if p[DRIFT_WEIGHT] > 0.0:  # a step is no drift; a CUSUM alarm within one is
                drift_restart(drift, restart)
        level[M] = restart
        holt[L] = restart
        holt[B] = 0.0
    span = samples_in(clock, t, p[LIK_SPAN_S], int(p[LIK_WINDOW]))
    excess = likelihood_learn(lik, z, n, p[ZCAP], p[A_LIK], span)
    if p[LIK_SHORT_S] > 0.0 and clock[INTERVAL] > 0.0:
        # A second, shorter scale: a one-hour spike on an hourly series is news that a
        # ten-hour mean dilutes, while that mean still sees a slow drift.
        excess = max(excess, likelihood_short(
            lik, short, int(p[LIK_SHORT_S] / clock[INTERVAL] + 0.5), n, p[A_LIK]))
    if p[DIST_WEIGHT] > 0.0:  # off by default: no work on the hot path for it
        dist_learn(dist, x, n, p[A_DIST])
    state[MODEL] = model
    if n <= p[WARMUP]:
        state[E_LIK] = 0.0
        state[E_RANGE] = 0.0
        return no_report(state, 0.0)

    # ---- combine, suppress, map to [0, 1)
    e_lik = max(likelihood_evidence(excess), p[DIST_WEIGHT] * e_dist, e_vol)
    if p[PEAK_RECALL] > 0.0:
        # Rarity against the series' own ordinary day (peak.py): a surprise some sample
        # shows every day is no incident, whatever its Gaussian tail says.
        e_lik = peak_calibrate(peak, e_lik, t, p[PEAK_RECALL])
    # A drift's evidence grows by the hour: on the likelihood's channel the hold it sets
    # would grow with it and never let it through; on the range's it pages once, like a
    # range detection (a value beyond the level the series has held lately).
    e_range = max(p[RANGE_EVIDENCE] if fired else 0.0, e_drift)
    state[E_LIK] = e_lik
    state[E_RANGE] = e_range
    decay = p[SUP_DECAY]
    if p[SUP_TAU_S] > 0.0 and clock[INTERVAL] > 0.0:
        # An event is held for a time, not a count: 175 samples are 15 h at 5 minutes
        # but a week at one an hour.
        decay = math.exp(-clock[INTERVAL] / p[SUP_TAU_S])
    if p[SUP_QUIET_S] > 0.0 and clock[INTERVAL] > 0.0 and max(e_lik, e_range) < QUIET:
        # The event is over (nothing unusual now): let its hold fade in hours, so the next
        # incident pages, while one that goes on stays held for sup_tau.
        decay *= math.exp(-clock[INTERVAL] / p[SUP_QUIET_S])
    evidence = suppress_pair(sup, e_lik, e_range, p[SUP_MARGIN], p[SUP_MULT], p[SUP_DAMP],
                             decay, p[SUP_CROSS])
    if p[RARITY_PERIOD_S] > 0.0 and clock[INTERVAL] > 0.0:
        # Rarity per unit of time, not per sample: a 1-in-100 sample is hourly news on a
        # per-minute series and a 4-day event on an hourly one.
        evidence = max(0.0, evidence - math.log10(max(1.0, p[RARITY_PERIOD_S] / clock[INTERVAL])))
    score = 1.0 - math.exp(-evidence / p[OUT_SCALE])
    half = p[ZCAP] * scale
    if fired and e_range >= e_lik:
        # A range detection was judged against the range, not the forecast: show that band,
        # which the value lies outside of by construction.
        expected = 0.5 * (lo_seen + hi_seen)
        half = (0.5 + tol) * (hi_seen - lo_seen)
    lower = expected - half
    if rng[LO] >= 0.0:  # a series that has never gone negative (counts, ratios, latencies)
        lower = max(lower, 0.0)
    return report_band(state, score, expected, lower, expected + half)


@kernel
def ensemble_run(state: np.ndarray, p: np.ndarray, values: np.ndarray, ts_ns: np.ndarray,
                 out: np.ndarray) -> None:
    """``ensemble_step`` over arrays."""
    for i in range(values.size):
        out[i] = ensemble_step(state, p, values[i], ts_ns[i])
