"""The checked-in JSON Schemas under schemas/jsonschema/ match the output models.

After changing schemas/outputs.py, regenerate them with ``python -m schemas.export``.
"""

import json
from pathlib import Path

import pytest
from alertflow.schemas import outputs
from alertflow.schemas.export import DEFAULT_DIR, export_json_schemas, main
from alertflow.schemas.outputs import OUTPUT_MODELS
from pydantic import BaseModel


def test_checked_in_schemas_match_a_fresh_export(tmp_path: Path) -> None:
    fresh = {p.name: p.read_text(encoding="utf-8") for p in export_json_schemas(tmp_path)}
    checked_in = {p.name: p.read_text(encoding="utf-8") for p in DEFAULT_DIR.glob("*.json")}
    assert sorted(checked_in) == sorted(fresh), "run: python -m schemas.export"
    for name, text in fresh.items():
        assert checked_in[name] == text, f"{name} is stale; run: python -m schemas.export"


def test_export_writes_one_file_per_output_stream(tmp_path: Path) -> None:
    paths = export_json_schemas(tmp_path / "nested")
    assert [p.name for p in paths] == [f"{s}.schema.json" for s in OUTPUT_MODELS]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("}\n") and text.startswith('{\n  "')
        schema = json.loads(text)
        assert list(schema) == sorted(schema)


def test_cli_takes_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(OUTPUT_MODELS)
    assert main(["a", "b"]) == 2


@pytest.mark.parametrize("stream", list(OUTPUT_MODELS))
def test_required_fields_exist_on_the_model(stream: str) -> None:
    model = OUTPUT_MODELS[stream]
    schema = json.loads((DEFAULT_DIR / f"{stream}.schema.json").read_text(encoding="utf-8"))
    assert set(schema.get("required", [])) <= set(model.model_fields)
    # Nested models ($defs) are named by their class; check them the same way.
    for title, definition in schema.get("$defs", {}).items():
        nested = getattr(outputs, title, None)
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            assert set(definition.get("required", [])) <= set(nested.model_fields), title
