"""BENCHMARKS.md keeps the newest runs of each benchmark, not every run ever recorded."""

import pytest

from bench import report

BEFORE = """# Benchmarks

| benchmark | ours |
|---|---|

## NAB
What this section measures.

### NAB scores, 2026-01-01 10:00 UTC
old
### Per category
old table

## Correlation
### Correlation, 2026-01-01 11:00 UTC
seed 0

## NAB
### NAB scores, 2026-01-02 10:00 UTC
newer
"""


@pytest.mark.parametrize(("keep", "kept", "dropped"), [
    (1, ["### NAB scores, 2026-01-03", "What this section measures."],
     ["2026-01-01 10:00", "2026-01-02", "old table"]),
    (2, ["### NAB scores, 2026-01-02", "### NAB scores, 2026-01-03"],
     ["2026-01-01 10:00", "old table"]),
    (3, ["2026-01-01 10:00", "### Per category", "2026-01-02", "2026-01-03"], []),
])
def test_a_new_run_replaces_the_oldest_beyond_keep(tmp_path, monkeypatch, keep, kept, dropped):
    monkeypatch.setattr(report, "REPO", tmp_path)
    (tmp_path / "BENCHMARKS.md").write_text(BEFORE)
    report.record("## NAB", "\n### NAB scores, 2026-01-03 10:00 UTC\nnewest\n", keep=keep)
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert text.startswith("# Benchmarks\n\n| benchmark | ours |")
    assert text.count("## NAB\n") == 1  # the repeated heading became one section
    assert "### Correlation, 2026-01-01 11:00 UTC\nseed 0" in text  # others untouched
    for needle in kept:
        assert needle in text
    for needle in dropped:
        assert needle not in text


def test_a_new_section_goes_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "REPO", tmp_path)
    (tmp_path / "BENCHMARKS.md").write_text(BEFORE)
    report.record("## Logs", "\n### Logs, 2026-01-05 10:00 UTC\nGA 0.9\n")
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert text.rstrip().endswith("### Logs, 2026-01-05 10:00 UTC\nGA 0.9")
