"""What every benchmark writes beside its table: the machine, the command, and where it goes."""

import contextlib
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine(*packages: str) -> str:
    """``nproc N, <CPU model>, Python X`` and the versions of ``packages``."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    parts = [f"nproc {os.cpu_count()}", model, f"Python {platform.python_version()}"]
    parts += [f"{name} {version(name)}" for name in packages]
    return ", ".join(parts)


def command_line(script: str, argv: Sequence[str]) -> str:
    """The command that reproduces this run, with the interpreter relative to the repo."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(REPO) if python.is_relative_to(REPO) else python
    return shlex.join([str(python), script, *argv])


def revision() -> str:
    """The commit measured, and whether tracked files differed from it (read-only git)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head}{' + uncommitted changes' if dirty else ''}"


_RUN = re.compile(r"^### .*\d{4}-\d{2}-\d{2}")


def run_entry(script: str, argv: Sequence[str], lines: Sequence[str], *packages: str) -> str:
    """A dated run for ``record``: the revision, the command, the machine, then ``lines``."""
    return (f"### {time.strftime('%Y-%m-%d')} · {revision()}\n\n"
            f"`{command_line(script, argv)}` on {machine(*packages)}\n\n"
            + "\n".join(lines) + "\n")


def record(section: str, entry: str, keep: int = 2) -> None:
    """Add ``entry`` to BENCHMARKS.md's ``section``, keeping only its ``keep`` newest runs.

    A run starts at a ``###`` heading with a date; what a section holds before its first run
    stays, and so does every other section. Older runs are in git's history, not the file:
    the file opens with the latest figures and must stay readable.
    """
    path = REPO / "BENCHMARKS.md"
    preamble, sections = split_sections(path.read_text() if path.exists() else "")
    sections[section] = trim_runs(sections.get(section, "") + entry, keep)
    body = "".join(f"\n{title}\n\n{text.strip(chr(10))}\n" for title, text in sections.items())
    path.write_text(preamble.rstrip("\n") + "\n" + body)


def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first ``## `` heading, and each section's body by heading.

    A heading that occurs twice is one section, its bodies in order.
    """
    preamble, sections, current = [], {}, None
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            current = line.strip()
            sections.setdefault(current, "")
        elif current is None:
            preamble.append(line)
        else:
            sections[current] += line
    return "".join(preamble), sections


def trim_runs(body: str, keep: int) -> str:
    """``body`` with only its last ``keep`` runs (and whatever precedes the first run)."""
    lines = body.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _RUN.match(line)]
    if len(starts) <= keep:
        return body
    cut = starts[-keep] if keep > 0 else len(lines)
    return "".join(lines[: starts[0]] + lines[cut:])
