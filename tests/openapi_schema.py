"""Validate payloads against OpenAI's published OpenAPI schema (../shared/reference/openai-openapi.yaml).

The file still writes `nullable: true` in places (the OpenAPI 3.0 way); we read it as "null is allowed too".
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SHARED = Path(os.environ.get("TIERGATE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SPEC_PATH = SHARED / "reference" / "openai-openapi.yaml"


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@functools.cache
def _spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open() as handle:
        return _nullable(yaml.load(handle, Loader=loader))  # type: ignore[no-any-return]


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    return Registry().with_resource("openapi.yaml", resource)


def validate(instance: Any, schema_name: str) -> None:
    """Raise jsonschema.ValidationError unless `instance` fits components/schemas/<schema_name>."""
    schema = {"$ref": f"openapi.yaml#/components/schemas/{schema_name}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    validator.validate(instance)
