"""The streaming ensemble: behaviour on crafted series, and equality with the prototype."""

import math

import numpy as np
import pytest
from alertflow.operators.anomaly import StreamingEnsemble
from alertflow.operators.anomaly.factory import detector_factory
from alertflow.schemas.config import DetectorSettings

STEP_NS = 300 * 10**9  # five-minute samples, NAB's usual spacing
DAY = 288
T0_NS = 1_396_310_400 * 10**9  # 2014-04-01T00:00:00Z
THRESHOLD = 0.214  # the defaults' NAB-optimal threshold (standard profile, dev subset)
# The research prototype: one suppression level decaying over 200 samples, the likelihood over
# 10 samples, rarity per sample, no resolution floor.
PROTOTYPE_SETTINGS = {"sup_cross": 1.0, "sup_tau": 200.0, "lik_span_s": 0.0, "rarity_period_s": 0.0,
                      "range_mature": 0.0,
                      "warmup": 150,
                      "grain_frac": 0.0}


def _noise(n, seed=0):
    return 100.0 + np.random.default_rng(seed).uniform(-1.0, 1.0, n)


def _daily(days=5, seed=3):
    i = np.arange(days * DAY)
    return 100.0 + 30.0 * np.sin(2 * np.pi * i / DAY) + np.random.default_rng(seed).normal(
        0.0, 1.0, i.size
    )


def _with(values, at, new):
    values = np.array(values, dtype=float)
    values[at] = new(values[at])
    return values


def _bursty(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    values = np.zeros(n)
    for start in rng.integers(0, n, 60):
        values[start : start + rng.integers(1, 4)] = rng.uniform(0.0, 1e-3)
    return values


def _run(values):
    """Scores and contributors per sample, fed one at a time as the flow does."""
    det = StreamingEnsemble()
    scores, names = [], []
    for i, value in enumerate(np.asarray(values, dtype=float).tolist()):
        scores.append(det.update(value, T0_NS + i * STEP_NS))
        names.append(det.contributors())
    return np.array(scores), names


MISSING_PEAK = slice(4 * DAY + 50, 4 * DAY + 90)

# name, series, rows that must alarm (any of them), rows that must stay quiet, a channel
# that must be named among the alarming rows (or None)
CASES = [
    ("spike", _with(_noise(600), 400, lambda v: v + 8), slice(400, 401), slice(150, 400),
     "range"),
    ("dip", _with(_noise(600), 400, lambda v: v - 8), slice(400, 401), slice(150, 400),
     "range"),
    ("level shift alarms, is learnt, then silent", _with(_noise(2000), slice(600, None),
     lambda v: v + 20), slice(600, 620), slice(650, None), "level_shift"),
    ("missing daily peak", _with(_daily(), MISSING_PEAK, lambda v: v * 0 + 100),
     MISSING_PEAK, slice(300, MISSING_PEAK.start), "likelihood:seasonal"),
    ("regular daily cycle is not an anomaly", _daily(), None, slice(300, None), None),
    ("flatline then change", [5.0] * 300 + [6.0], slice(300, 301), slice(0, 300), None),
    ("flatline stays flat", [5.0] * 400, None, slice(0, None), None),
    ("near-zero bursts", _bursty(), None, None, None),
]


@pytest.mark.parametrize(("name", "values", "alarm", "quiet", "channel"), CASES,
                         ids=[case[0] for case in CASES])
def test_behaviour(name, values, alarm, quiet, channel):
    scores, names = _run(values)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    if alarm is not None:
        assert scores[alarm].max() >= THRESHOLD, name
    if quiet is not None:
        assert scores[quiet].max() < THRESHOLD, name
    if channel is not None:
        rows = range(*alarm.indices(len(scores)))
        assert any(channel in names[i] for i in rows), (name, [names[i] for i in rows])


def test_near_zero_bursty_series_does_not_explode():
    scores, _ = _run(_bursty())
    # Of 3000 rows, 60 of them bursts: a handful of alarms, not hundreds. (Four since the
    # warm-up is 100 samples: a burst at row 135 now beats a range learnt on three bursts.)
    assert (scores >= THRESHOLD).sum() <= 4


def test_the_profile_is_used_only_when_the_series_is_seasonal():
    _, seasonal = _run(_daily())
    _, flat = _run(100.0 + np.random.default_rng(1).normal(0.0, 1.0, 5 * DAY))
    assert any("likelihood:seasonal" in names for names in seasonal[DAY + 10 :])
    assert not any("likelihood:seasonal" in names for names in flat)


def test_spike_record_has_band_and_channels():
    values = _with(_noise(600), 400, lambda v: v + 8)
    det = StreamingEnsemble()
    det.update_many(values[:400], T0_NS + np.arange(400) * STEP_NS)
    score = det.score_one(values[400], T0_NS + 400 * STEP_NS)
    band = det.expectation()
    assert score >= THRESHOLD
    assert band is not None and band.lower < 100.0 < band.upper < values[400]
    assert det.contributors() == ["range"]
    det.learn_one(values[400], T0_NS + 400 * STEP_NS)
    assert det.n == 401


def test_no_expectation_during_warmup():
    det = StreamingEnsemble()
    warmup = det.warmup
    det.update_many(_noise(warmup), T0_NS + np.arange(warmup) * STEP_NS)
    assert det.expectation() is None and not det.contributors()
    det.update(100.0, T0_NS + warmup * STEP_NS)
    assert det.expectation() is not None


# --------------------------------------------------------------------------- settings


def test_settings_defaults_are_the_ensembles():
    built = detector_factory(DetectorSettings())()
    assert built.__getstate__() == StreamingEnsemble().__getstate__()


def test_factory_passes_every_setting():
    settings = DetectorSettings(warmup=10, nbins=48, lik_window=20, range_tol=0.1)
    det = detector_factory(settings)()
    assert {name: getattr(det, name) for name in settings.model_dump()} == settings.model_dump()


# --------------------------------------------------------------------------- the prototype


def _fixture_series():
    """5 days of a daily cycle with LCG noise, a NaN, a spike, a level shift, a flat stretch."""
    state, values, stamps = 20140401, [], []
    for i in range(5 * DAY):
        state = (state * 1103515245 + 12345) % 2**31
        noise = state / 2**31 - 0.5
        value = 50.0 + 20.0 * math.sin(2 * math.pi * (i % DAY) / DAY) + 2.0 * noise
        if i == 700:
            value += 40.0
        if i >= 900:
            value += 15.0
        if 1250 <= i < 1290:
            value = 65.0 + noise
        if i == 333:
            value = math.nan
        values.append(value)
        stamps.append(1_396_310_400 + 300 * i)
    return np.array(values), np.array(stamps, dtype=np.int64)


# /tmp/proto/best.py's ``detect(values, stamps_in_seconds)`` on _fixture_series(), recorded
# once: the sum, the index-weighted sum, and every score above 0.1.
FIXTURE_SUM = 8.673796471192212
FIXTURE_WEIGHTED_SUM = 7261.046384796644
FIXTURE_HIGH = {
    152: 0.5654017914929218, 700: 0.5654017914929218, 904: 0.47423878587964363,
    906: 0.6749781076482193, 907: 0.12862273778292221, 908: 0.1521853978275871,
    909: 0.8382655348464195, 910: 0.15277387115242258, 911: 0.1412065777950562,
    912: 0.1313546495200032, 913: 0.12286204490141395, 914: 0.11546485202033263,
    915: 0.10896332253585617, 916: 0.10320350044885718,
}


def test_reproduces_the_prototypes_recorded_scores():
    values, stamps = _fixture_series()
    scores = StreamingEnsemble(**PROTOTYPE_SETTINGS).update_many(values, stamps * 10**9)
    assert scores.sum() == pytest.approx(FIXTURE_SUM, abs=1e-9)
    assert (np.arange(scores.size) * scores).sum() == pytest.approx(FIXTURE_WEIGHTED_SUM,
                                                                    abs=1e-9)
    high = {int(i): float(scores[i]) for i in np.flatnonzero(scores > 0.1)}
    assert high.keys() == FIXTURE_HIGH.keys()
    assert list(high.values()) == pytest.approx(list(FIXTURE_HIGH.values()), abs=1e-9)


def test_a_range_detection_holds_the_likelihood_back_only_partly():
    """Per-channel suppression: a later rise of the average is its own event."""
    from alertflow.operators.anomaly.suppression import PAIR_SIZE, suppress_pair

    def passed(cross, e_lik):
        sup = np.zeros(PAIR_SIZE)
        suppress_pair(sup, 0.0, 10.0, 1.0, 1.5, 0.1, 1.0, cross)  # range fires: level 15
        return suppress_pair(sup, e_lik, 0.0, 1.0, 1.5, 0.1, 1.0, cross)

    assert passed(1.0, 6.0) == pytest.approx(0.6)  # one shared level: damped
    assert passed(0.3, 6.0) == 6.0  # 6 > 0.3 * 15 + 1
    assert passed(0.3, 5.0) == pytest.approx(0.5)
    sup = np.zeros(PAIR_SIZE)
    suppress_pair(sup, 6.0, 0.0, 1.0, 1.5, 0.1, 1.0, 0.3)  # the likelihood fires: level 9
    assert suppress_pair(sup, 0.0, 10.0, 1.0, 1.5, 0.1, 1.0, 0.3) == pytest.approx(1.0)
    assert suppress_pair(sup, 0.0, 10.5, 1.0, 1.5, 0.1, 1.0, 0.3) == 10.5  # 10.5 > 9 + 1


# --------------------------------------------------------------------------- alertflow detect


def _detect(tmp_path, rows, chunk_rows=None, monkeypatch=None):
    import io

    from alertflow.dataflows import detect
    from alertflow.schemas.config import AlertflowConfig

    if chunk_rows is not None:
        monkeypatch.setattr(detect, "CHUNK_ROWS", chunk_rows)
    path = tmp_path / "series.csv"
    path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows))
    out = io.StringIO()
    scored = detect.detect_csv(path, AlertflowConfig(), out)
    return scored, out.getvalue().splitlines()


def test_detect_prints_what_update_many_scores(tmp_path, monkeypatch):
    values = _with(_noise(400), 300, lambda v: v + 8)
    stamps = T0_NS + np.arange(400) * STEP_NS
    text = [str(s).replace("T", " ") for s in stamps.astype("datetime64[ns]").astype("datetime64[s]")]
    rows = list(zip(text, values.tolist(), strict=True))
    rows[5] = (rows[5][0], "oops")
    rows[6] = (rows[6][0], "nan")
    rows[7] = ("2014-04-01T02:35:00+02:00", rows[7][1])  # the same instant as row 7, zoned
    finite = np.ones(400, dtype=bool)
    finite[[5, 6]] = False
    expected = StreamingEnsemble().update_many(values[finite], stamps[finite])
    scored, lines = _detect(tmp_path, rows)
    _, chunked = _detect(tmp_path, rows, chunk_rows=7, monkeypatch=monkeypatch)
    assert scored == 398 and lines == chunked
    assert lines[0] == "timestamp,value,anomaly_score"
    assert lines[6] == f"{text[5]},oops," and lines[7] == f"{text[6]},nan,"
    printed = [float(line.rsplit(",", 1)[1]) for line in lines[1:] if not line.endswith(",")]
    assert printed == pytest.approx(expected.tolist(), abs=5e-7)
    assert float(lines[301].rsplit(",", 1)[1]) >= THRESHOLD


def test_detect_names_the_line_of_a_bad_timestamp(tmp_path):
    from alertflow.schemas.config import ConfigError

    rows = [("2014-04-01 00:00:00", 1.0), ("yesterday", 2.0)]
    with pytest.raises(ConfigError, match=r"series.csv:3: expected an ISO 8601 timestamp"):
        _detect(tmp_path, rows)
