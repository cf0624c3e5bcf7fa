"""JSON Schema -> Gemini's Schema (an OpenAPI 3.0 subset) for `responseSchema` and function parameters.

Gemini takes upper-case `type` names, `nullable` instead of a `null` type, and a
fixed set of keys; the rest (`additionalProperties`, `$schema`, `strict`,
`examples`...) is dropped, since it only constrains what Gemini already
produces. `const` becomes a one-value `enum`. `$ref` cannot be expressed and is
refused (400) rather than silently loosened.
"""

from __future__ import annotations

from typing import Any

from router.errors import UpstreamError
from router.providers.translate import untranslatable

_KEPT = {
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "required",
    "propertyOrdering",
    "default",
}


def to_gemini_schema(schema: Any, param: str, depth: int = 0) -> dict[str, Any]:
    if not isinstance(schema, dict) or depth > 32:
        return {"type": "STRING"}
    if "$ref" in schema or "$defs" in schema or "definitions" in schema:
        raise untranslatable("gemini", "JSON Schema references ($ref/$defs) are not supported", param)
    out: dict[str, Any] = {key: schema[key] for key in _KEPT if key in schema}
    kind = schema.get("type")
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        if len(others) < len(kind):
            out["nullable"] = True
        kind = others[0] if others else "string"
    if "const" in schema:
        out["enum"] = [schema["const"]]
        kind = kind or "string"
    if kind is None and "properties" in schema:
        kind = "object"
    if isinstance(kind, str):
        out["type"] = kind.upper()
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {
            name: to_gemini_schema(sub, param, depth + 1) for name, sub in schema["properties"].items()
        }
    if "items" in schema:
        out["items"] = to_gemini_schema(schema["items"], param, depth + 1)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            options = [s for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null")]
            if len(options) < len(schema[key]):
                out["nullable"] = True
            if len(options) == 1:
                out.update(to_gemini_schema(options[0], param, depth + 1))
            else:
                out["anyOf"] = [to_gemini_schema(s, param, depth + 1) for s in options]
    if "enum" in out and out.get("type") not in (None, "STRING"):
        # Gemini's enum is for strings only.
        out["enum"] = [str(v) for v in out["enum"]]
        out["type"] = "STRING"
    return out


def checked(schema: Any, param: str) -> dict[str, Any]:
    try:
        return to_gemini_schema(schema, param)
    except UpstreamError:
        raise
    except (TypeError, ValueError):
        raise untranslatable("gemini", "the JSON Schema could not be converted", param) from None
