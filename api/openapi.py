"""Export the REST side's OpenAPI document: ``python -m alertflow.api.openapi [FILE]``."""

import json
import sys
from pathlib import Path

from alertflow.api.app import create_app
from alertflow.api.deps import ApiContext


def document() -> dict:
    """The OpenAPI document, built without a store (it depends only on the routes)."""
    return create_app(ApiContext(engine=None, intake=None)).openapi()  # type: ignore[arg-type]


def main() -> None:
    """Write the document to the file given, or next to this module."""
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("openapi.json")
    target.write_text(json.dumps(document(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
