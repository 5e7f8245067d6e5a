"""Export the JSON Schema of the author-facing models so editors can complete and check YAML."""
from __future__ import annotations

import json
from pathlib import Path

import schemas
from schemas.models import BookMeta, SectionMeta, TopicMeta

SCHEMAS = {"book.schema.json": BookMeta, "section.schema.json": SectionMeta, "topic.schema.json": TopicMeta}
FOLDER = Path(schemas.__file__).resolve().parent


def render_schemas() -> dict[str, str]:
    return {name: json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n" for name, model in SCHEMAS.items()}


def write_schemas(check: bool = False) -> list[str]:
    """Write (or with check=True only compare) the schema files; return the names that were stale."""
    stale = []
    for name, text in render_schemas().items():
        path = FOLDER / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
            if not check:
                path.write_text(text, encoding="utf-8")
    return stale
