"""What every benchmark writes beside its table: the machine, the command, and where it goes."""

import contextlib
import os
import platform
import shlex
import subprocess
import sys
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


def record(section: str, entry: str) -> None:
    """Append ``entry`` to BENCHMARKS.md under ``section``; append-only, others' stay intact."""
    path = REPO / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else ""
    headings = [line.strip() for line in text.splitlines() if line.startswith("## ")]
    prefix = "" if headings and headings[-1] == section else f"\n{section}\n"
    with path.open("a") as out:
        out.write(prefix + entry)
