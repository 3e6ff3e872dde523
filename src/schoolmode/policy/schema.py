"""JSON Schemas of the policy, overlay and case file formats, generated from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schoolmode.policy.cases import CaseFile
from schoolmode.policy.model import Overlay, Policy

SCHEMAS: dict[str, type[BaseModel]] = {
    "policy.schema.json": Policy,
    "overlay.schema.json": Overlay,
    "cases.schema.json": CaseFile,
}


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(model: type[BaseModel]) -> str:
    return json.dumps(schema_of(model), indent=2, sort_keys=True, default=str) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        target = folder / name
        target.write_text(render(model), encoding="utf-8")
        written.append(target)
    return written
