"""Part 4 of bench/correlation_scale.py: it times under alertflow run's collector, then restores."""

import gc

from alertflow.dataflows.runner import GC_YOUNG_THRESHOLD

from bench.correlation_open import VARIANTS, measure_open, runner_collector
from bench.correlation_scale import GroupByReference


def test_the_collector_is_the_runners_inside_and_the_callers_after():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with runner_collector():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen or frozen  # a heap frozen before stays so


def test_part_4_times_every_variant_and_keeps_the_incidents_open():
    before = gc.get_threshold()
    res = measure_open(incidents=5, events=40, repeats=1, reference=GroupByReference)
    assert set(res.us) == {name for name, _, _ in VARIANTS} | {"group_by reference"}
    assert all(us > 0 for us in res.us.values())
    assert res.open_after[VARIANTS[0][0]] == 5  # no chain's alerts relate to another's
    assert gc.get_threshold() == before
