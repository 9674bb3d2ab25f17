"""``alertflow detect``: score a NAB-style ``timestamp,value`` CSV in one streaming pass."""

import csv
import math
import sys
from pathlib import Path
from typing import TextIO

from operators.anomaly.factory import detector_factory
from schemas.config import AlertflowConfig, ConfigError


def detect_csv(path: Path, config: AlertflowConfig, out: TextIO | None = None) -> int:
    """Print ``timestamp,value,anomaly_score``; each score is computed before learning the point.

    Rows whose value is not a finite number keep their place with an empty score,
    so the output lines up with the input. Returns the number of rows scored.
    """
    out = out or sys.stdout
    detector = detector_factory(config.scoring.detector)()
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    scored = 0
    with handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            raise ConfigError(f"{path}: expected a header 'timestamp,value', got {header}")
        lines = ["timestamp,value,anomaly_score\n"]
        for index, row in enumerate(rows):
            if len(row) < 2:
                raise ConfigError(f"{path}:{index + 2}: expected 'timestamp,value', got {row}")
            try:
                value = float(row[1])
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                lines.append(f"{row[0]},{row[1]},\n")
                continue
            # The detector sees arrival order; the timestamp is only carried through.
            score = detector.score_one(value, index)
            detector.learn_one(value, index)
            scored += 1
            lines.append(f"{row[0]},{row[1]},{score:.6f}\n")
            if len(lines) >= 8192:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return scored
