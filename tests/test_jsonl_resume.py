"""A resumed JSONL output continues after its last whole line, never padded with zeros."""

from pathlib import Path

from alertflow.dataflows.sinks import _JsonlPartition
from hypothesis import given, settings
from hypothesis import strategies as st

LINES = st.lists(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8)


@settings(deadline=None, max_examples=60)
@given(kept=LINES, cut=st.integers(0, 50), ahead=st.integers(0, 200))
def test_a_shorter_file_continues_after_its_last_whole_line(tmp_path_factory, kept, cut, ahead):
    """The file lost lines past the snapshot's offset (or all of it): no zeros, whole lines."""
    path: Path = tmp_path_factory.mktemp("out") / "anomalies.jsonl"
    body = b"".join(line + b"\n" for line in kept)
    partial = body + b"x" * cut  # a half-written last line
    path.write_bytes(partial)
    resume_at = len(partial) + 1 + ahead  # the snapshot was taken further on
    part = _JsonlPartition(path, resume_at)
    part._file.write(b"next\n")
    part.close()
    assert path.read_bytes() == body + b"next\n"


def test_a_removed_file_starts_empty(tmp_path):
    path = tmp_path / "incidents.jsonl"
    part = _JsonlPartition(path, 5000)
    part._file.write(b"next\n")
    part.close()
    assert path.read_bytes() == b"next\n"


def test_a_longer_file_is_cut_back_to_the_snapshot(tmp_path):
    path = tmp_path / "incidents.jsonl"
    path.write_bytes(b"a\nb\nc\n")
    part = _JsonlPartition(path, 4)
    part._file.write(b"n\n")
    part.close()
    assert path.read_bytes() == b"a\nb\nn\n"
