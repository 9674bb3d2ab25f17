"""Pure scoring functions of bench/logs.py (no data files)."""

import pytest

from bench import logs


@pytest.mark.parametrize(
    ("predicted", "truth", "expected"),
    [
        (["a", "a", "b"], ["E1", "E1", "E2"], 1.0),
        (["a", "a", "a"], ["E1", "E1", "E2"], 0.0),  # over-merged: no line is right
        (["a", "b", "c"], ["E1", "E1", "E2"], 1 / 3),  # E1 split; E2 alone is right
        (["x", "y", "x", "z"], ["E1", "E2", "E1", "E2"], 0.5),
    ],
)
def test_grouping_accuracy(predicted, truth, expected):
    assert logs.grouping_accuracy(predicted, truth) == pytest.approx(expected)


def test_parsing_accuracy_collapses_runs_of_parameters_and_spaces():
    predicted = ["took <*> <*>  ms", "from <*>", "user <*> in"]
    truth = ["took <*> ms", "from <*>:<*>", "user <*><*> in"]
    assert logs.parsing_accuracy(predicted, truth) == pytest.approx(2 / 3)


def test_the_simulated_system_is_labelled_by_its_templates():
    messages, groups, templates = logs.simulated(seed=1, lines=300)
    assert len(messages) == len(groups) == len(templates) == 300
    assert all("{" not in t for t in templates) and len(set(groups)) > 10
    ids, _ = logs.ours()(messages)
    assert logs.grouping_accuracy(ids, groups) > 0.8
    ids, _ = logs.drain3()(messages)
    assert len(ids) == 300


def test_drain3_tuned_applies_the_regexes_first():
    ids, templates = logs.drain3([r"\d+"], sim_th=0.5, depth=4)(["a 1 b", "a 22 b", "c d"])
    assert ids[0] == ids[1] != ids[2] and templates[0] == "a <*> b"
