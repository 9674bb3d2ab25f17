"""Multivariate scoring through the flow: a broken combination of two metrics is caught."""

import random

from alertflow.dataflows.flow import build_flow
from alertflow.schemas.config import AlertflowConfig
from bytewax.testing import run_main

from tests.flowkit import T0, prom_line, read_jsonl, write_lines


def _fleet(minutes=300, broken_at=280):
    rng = random.Random(0)
    lines = []
    for minute in range(minutes):
        load = rng.uniform(0, 10)
        rps, cpu = 100 * load + rng.gauss(0, 1), 5 * load + rng.gauss(0, 1)
        if minute == broken_at:
            rps, cpu = 900.0, 5.0  # each inside its own range, the pair apart
        ts = T0 + 60 * minute
        lines.append(prom_line("rps", {"service": "api"}, ts, rps))
        lines.append(prom_line("cpu", {"service": "api"}, ts, cpu))
    return lines


def _run(tmp_path, enabled):
    metrics = write_lines(tmp_path / "m.jsonl", _fleet())
    config = AlertflowConfig(
        inputs={"metrics": [str(metrics)]},
        output=str(tmp_path / f"out-{enabled}"),
        multivariate={"enabled": enabled, "lateness_s": 0},
    )
    run_main(build_flow(config))
    return read_jsonl(tmp_path / f"out-{enabled}" / "anomalies.jsonl")


def test_entity_anomaly_names_the_metrics_behind_it(tmp_path):
    found = [a for a in _run(tmp_path, True) if a["name"] == "entity"]
    broken = [a for a in found if a["ts"] == "2026-11-25T14:41:00.000Z"]
    assert broken, found
    assert broken[0]["labels"] == {"entity": "service=api"}
    assert {d.split(":", 1)[1] for d in broken[0]["detectors"]} & {"rps", "cpu"}
    # The broken window stands out most; the opt-in scorer's false-positive rate at its
    # default threshold is a few percent of windows (bench/isolation.py measures it).
    assert broken[0]["score"] == max(a["score"] for a in found)


def test_off_by_default(tmp_path):
    assert not [a for a in _run(tmp_path, False) if a["name"] == "entity"]


def test_entity_anomalies_have_chains_of_their_own(tmp_path):
    # The entities step is keyed by entity: its anomalies chained beside a series shard's
    # (scoring/s<n>, main until audit7) had no fixed order against the scoring step's.
    found = {a["id"]: a for a in _run(tmp_path, True)}
    audit = read_jsonl(tmp_path / "out-True" / "audit.jsonl")
    chains = {r["partition"] for r in audit if found[r["record_id"]]["name"] == "entity"}
    assert len(chains) == 1
    (chain,) = chains
    assert chain.startswith("entities/") and "api" not in chain  # labels stay out of it
    assert all(r["partition"].startswith("scoring/s") for r in audit
               if found[r["record_id"]]["name"] != "entity")  # fmt: skip
