"""Golden files: each tests/golden/<format>/<case>.json decodes to <case>.expected.json.

Regenerate the expected files after a deliberate change with
``ALERTFLOW_REGEN_GOLDEN=1 pytest tests/test_golden.py`` and review the diff.
"""

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from alertflow.schemas.decoders import decode_stream

GOLDEN = Path(__file__).parent / "golden"
# Which input stream each format's payloads arrive on.
FORMAT_STREAMS = {
    "prometheus": "metrics",
    "otlp_metrics": "metrics",
    "alertmanager": "alerts",
    "otlp_logs": "logs",
    "json_logs": "logs",
    "otlp_traces": "traces",
    "feedback": "feedback",
}
REGEN = os.environ.get("ALERTFLOW_REGEN_GOLDEN") == "1"


def golden_payloads() -> list[Path]:
    return sorted(p for p in GOLDEN.glob("*/*.json") if not p.name.endswith(".expected.json"))


def expected_path(payload: Path) -> Path:
    return payload.with_name(payload.stem + ".expected.json")


def jsonable(value: Any) -> Any:
    """Records as plain JSON: non-finite floats become strings so files stay strict JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return value


def decode_payload(payload: Path) -> list[Any]:
    stream = FORMAT_STREAMS[payload.parent.name]
    ref = f"{payload.parent.name}/{payload.name}"
    return jsonable(decode_stream(stream, payload.read_bytes(), ref))


@pytest.mark.parametrize("payload", golden_payloads(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_payload_decodes_to_expected(payload: Path) -> None:
    actual = decode_payload(payload)
    expected_file = expected_path(payload)
    if REGEN:
        text = json.dumps(actual, indent=2, sort_keys=True, allow_nan=False) + "\n"
        expected_file.write_text(text, encoding="utf-8")
    assert expected_file.exists(), f"{expected_file} is missing; run with ALERTFLOW_REGEN_GOLDEN=1"
    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))


def test_every_format_has_golden_payloads() -> None:
    formats = {p.parent.name for p in golden_payloads()}
    assert formats == set(FORMAT_STREAMS)


def test_no_expected_file_without_its_payload() -> None:
    orphans = [
        p
        for p in GOLDEN.glob("*/*.expected.json")
        if not p.with_name(p.name.removesuffix(".expected.json") + ".json").exists()
    ]
    assert orphans == []
