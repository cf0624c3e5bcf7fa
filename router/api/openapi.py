"""OpenAPI documentation for the raw-ASGI routes, which litestar cannot see.

A feature module may expose `openapi_paths: dict[str, PathItem]`; `document_raw_routes` adds them, with the
request body schemas generated from our msgspec wire structs, to the schema litestar serves at /openapi.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, PathItem, RequestBody

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


def post_operation(summary: str, request_type: type, description: str, tag: str) -> PathItem:
    """A POST documented from a msgspec struct; responses are described, errors use OpenAI's body."""
    (schema,), definitions = msgspec.json.schema_components([request_type], ref_template="#/$defs/{name}")
    raw = {**schema, "$defs": definitions} if definitions else schema
    # Inline the definitions so the operation is self-contained for schema-driven clients and fuzzers.
    body: Any = _inline(raw, definitions)
    error_schema: Any = _ERROR  # a raw JSON schema: litestar serialises dicts as they are
    error = OpenAPIResponse(
        description="error", content={"application/json": OpenAPIMediaType(schema=error_schema)}
    )
    return PathItem(
        post=Operation(
            summary=summary,
            description=description,
            tags=[tag],
            request_body=RequestBody(
                content={"application/json": OpenAPIMediaType(schema=body)},
                required=True,
            ),
            responses={
                "200": OpenAPIResponse(description="OK (JSON, or `text/event-stream` when `stream` is true)"),
                "400": error,
                "401": error,
                "404": error,
                "413": error,
                "429": error,
                "502": error,
            },
        )
    )


def _inline(node: Any, definitions: dict[str, Any], depth: int = 0) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 12:
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions, depth + 1)
        return {k: _inline(v, definitions, depth) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, definitions, depth) for v in node]
    return node


def document_raw_routes(app: Litestar, paths: dict[str, PathItem]) -> None:
    schema = app.openapi_schema
    if schema.paths is None:
        schema.paths = {}
    for path, item in paths.items():
        schema.paths[path] = item
