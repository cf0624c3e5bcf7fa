"""Anthropic prompt-cache breakpoints (`cache_control`) carried through the OpenAI-format body.

A `/v1/messages` client marks blocks with `cache_control`; the ingress keeps each
mark where OpenAI's format has a matching place (a content part, a tool message,
a tool call, a tool) and sets `CACHE_MARK` on the body. The Anthropic adapter puts
the marks back on the same blocks, so prompt caching (reads at a tenth of the
input price) survives the trip. Other dialects have no such field: the OpenAI
adapter strips the marks (only when `CACHE_MARK` says there are any, so ordinary
requests pay one dict lookup), Gemini's builds its body without them.
"""

from __future__ import annotations

from typing import Any

CACHE_MARK = "_tiergate_cache_control"
FIELD = "cache_control"


def _without(item: Any) -> Any:
    if isinstance(item, dict) and FIELD in item:
        return {k: v for k, v in item.items() if k != FIELD}
    return item


def strip_cache_control(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of `body` (a shallow one of each level touched) with every mark removed."""
    out = {k: v for k, v in body.items() if k != CACHE_MARK}
    messages = []
    for message in body.get("messages") or ():
        message = _without(message)
        if isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, list):
                message = {**message, "content": [_without(part) for part in content]}
            if message.get("tool_calls"):
                message = {**message, "tool_calls": [_without(call) for call in message["tool_calls"]]}
        messages.append(message)
    out["messages"] = messages
    if body.get("tools"):
        out["tools"] = [_without(tool) for tool in body["tools"]]
    return out


def with_mark(block: dict[str, Any], source: Any) -> dict[str, Any]:
    """`block` carrying `source`'s cache mark, if it has one."""
    if isinstance(source, dict) and isinstance(source.get(FIELD), dict):
        block[FIELD] = source[FIELD]
    return block
