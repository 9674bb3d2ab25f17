"""Write the JSON Schema of every output stream: ``python -m schemas.export [DIR]``."""

import json
import sys
from pathlib import Path

from alertflow.schemas.outputs import OUTPUT_MODELS

DEFAULT_DIR = Path(__file__).parent / "jsonschema"


def schema_text(stream: str) -> str:
    """The exported JSON Schema of ``stream``: sorted keys, 2-space indent, trailing newline.

    >>> schema_text("dlq").splitlines()[:2]
    ['{', '  "additionalProperties": false,']
    """
    schema = OUTPUT_MODELS[stream].model_json_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``<stream>.schema.json`` for each output stream into ``directory``; return them."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stream in OUTPUT_MODELS:
        path = directory / f"{stream}.schema.json"
        path.write_text(schema_text(stream), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: export into ``argv[0]``, or into ``schemas/jsonschema/``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: python -m schemas.export [DIR]", file=sys.stderr)
        return 2
    for path in export_json_schemas(Path(args[0]) if args else DEFAULT_DIR):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
