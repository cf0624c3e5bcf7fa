"""Anthropic Messages request -> OpenAI chat body; OpenAI chat answer -> Anthropic message.

Rules (the inverse of router/providers/anthropic.py, summarised in the README):
- `system` (a string, or text blocks kept as text parts) becomes the first system message.
- A user turn's `tool_result` blocks become `tool` messages (in order, before the turn's other content, which
  follows as a user message); an `is_error` result's text is prefixed with "Error: ". Images inside a
  tool_result, `document` blocks and server tools (a tool with a `type`, e.g. web search) are refused (400).
- Text and image blocks (base64 -> `data:` URL, url -> URL) become content parts; an assistant turn's text
  blocks join into its content and `tool_use` blocks become `tool_calls`; `thinking` blocks are dropped.
- `cache_control` marks stay on the matching part, tool message, tool call or tool (router/providers/
  cache_control.py): Claude keeps its prompt cache through the gateway; other providers never see them.
- tools -> function tools; tool_choice auto/any/tool/none -> auto/required/named/none;
  `disable_parallel_tool_use` -> `parallel_tool_calls: false`; `stop_sequences` -> `stop`;
  `metadata.user_id` -> `user`; `top_k` and `thinking` are dropped (no OpenAI equivalent).
Answers: content -> a text block, tool_calls -> tool_use blocks; finish_reason stop -> end_turn (OpenAI does not
say whether a stop sequence ended it), length -> max_tokens, tool_calls -> tool_use, content_filter -> refusal.
Usage: input_tokens = prompt - cached, cache_read_input_tokens = cached, output_tokens = completion.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec

from router.errors import InvalidRequest
from router.providers.base import Usage
from router.providers.cache_control import CACHE_MARK, FIELD, with_mark
from router.wire.anthropic import MessagesRequest
from router.wire.json import decode_body

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def parse_messages_body(raw: bytes) -> tuple[dict[str, Any], MessagesRequest]:
    return decode_body(raw, MessagesRequest)


def _text_of(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    return "".join(b.get("text", "") for b in blocks or () if isinstance(b, dict) and b.get("type") == "text")


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    return with_mark(_image_url(block), block)


def _image_url(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        raise InvalidRequest(f"image source type {source.get('type')!r} is not supported", param="messages")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_message(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") != "text" for b in content):
        raise InvalidRequest("only text is supported inside a tool_result", param="messages")
    text = _text_of(content) if content is not None else ""
    if block.get("is_error"):
        text = f"Error: {text}"
    return with_mark(
        {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}, block
    )


def _user_turn(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "tool_result":
            tools.append(_tool_message(block))
        elif kind == "text":
            parts.append(with_mark({"type": "text", "text": block.get("text", "")}, block))
        elif kind == "image":
            parts.append(_image_part(block))
        else:
            raise InvalidRequest(f"content block type {kind!r} is not supported", param="messages")
    return [*tools, {"role": "user", "content": parts}] if parts else tools


def _assistant_turn(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(with_mark({"type": "text", "text": block.get("text", "")}, block))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input") or {}, separators=(",", ":"))
            function = {"name": block.get("name", ""), "arguments": arguments}
            call = {"id": str(block.get("id", "")), "type": "function", "function": function}
            calls.append(with_mark(call, block))
        elif kind not in ("thinking", "redacted_thinking"):
            raise InvalidRequest(f"content block type {kind!r} is not supported", param="messages")
    marked = any(FIELD in part for part in texts)
    text = "".join(part["text"] for part in texts) or None
    message: dict[str, Any] = {"role": "assistant", "content": texts if marked else text}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_choice(choice: dict[str, Any]) -> str | dict[str, Any]:
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    return "none" if kind == "none" else "auto"


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat body for a validated Messages request (`body` is the raw JSON object)."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        parts = [
            with_mark({"type": "text", "text": b.get("text", "")}, b)
            for b in system
            if b.get("type") == "text"
        ]
        messages.append({"role": "system", "content": parts})
    for turn in body["messages"]:
        if turn["role"] == "user":
            messages.extend(_user_turn(turn["content"]))
        else:
            messages.append(_assistant_turn(turn["content"]))
    chat: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]}
    for source, target in (("temperature", "temperature"), ("top_p", "top_p"), ("stop_sequences", "stop")):
        if body.get(source) is not None:
            chat[target] = body[source]
    tools = []
    for tool in body.get("tools") or ():
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest(f"server tool {tool.get('type')!r} is not supported", param="tools")
        function = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        tools.append(with_mark({"type": "function", "function": function}, tool))
    if tools:
        chat["tools"] = tools
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        chat["tool_choice"] = _tool_choice(choice)
        if choice.get("disable_parallel_tool_use") and tools:
            chat["parallel_tool_calls"] = False
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str):
        chat["user"] = user
    if b'"cache_control"' in msgspec.json.encode(body):
        chat[CACHE_MARK] = True
    if body.get("stream"):
        # Usage is always wanted: Anthropic's stream reports it in message_delta.
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def anthropic_usage(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return {
        "input_tokens": usage.prompt_tokens - cached,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
    }


def from_completion(
    completion: dict[str, Any], message_id: str, model: str, usage: Usage | None
) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {
                "_raw_arguments": function.get("arguments")
            }  # the model's malformed JSON, kept visible
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": arguments,
            }
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def usage_from_openai(body: dict[str, Any] | None) -> Usage | None:
    """Usage out of an OpenAI usage object (a cache hit's stored answer carries no Usage of its own)."""
    if not isinstance(body, dict):
        return None
    details = body.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(body.get("prompt_tokens") or 0),
        completion_tokens=int(body.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )
