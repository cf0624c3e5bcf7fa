"""The simulated Anthropic Messages API (`/{provider}/v1/messages`), exact to Anthropic's wire format.

Prompt caching is simulated: the prefix up to the last `cache_control` mark (tools, system, messages; at least
1,024 tokens) is written on first sight and read afterwards, as `cache_creation_input_tokens` /
`cache_read_input_tokens`. Validates what the real API refuses (missing `max_tokens`, roles other than user/assistant, a
`tool_result` whose `tool_use_id` no earlier `tool_use` carries) so an adapter that gets it wrong
fails here too. Streams send `event:` and `data:` lines in the documented order: message_start,
content_block_start, ping, content_block_delta..., content_block_stop, message_delta, message_stop.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from router.api.asgi import Send
from router.sim.answers import Reply, reply
from router.sim.common import (
    SimContext,
    SimRequest,
    apply_error_fault,
    before_response,
    encode,
    send_frames,
    send_json,
    start_sse,
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(status: int, code: str | None) -> dict[str, Any]:
    kind = code or _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": f"simulated error {status}"}}


def block_text(content: Any, *, results: bool = False) -> str:
    """The text of a message's content (tool_result text too when `results`)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif results and block.get("type") == "tool_result":
            parts.append(block_text(block.get("content")))
    return " ".join(parts)


def parse(provider: str, path: str, body: dict[str, Any], request_id: str | None) -> SimRequest:
    messages = body.get("messages") or []
    last_user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    return SimRequest(
        provider,
        "anthropic",
        str(body.get("model", "")),
        body,
        request_id,
        bool(body.get("stream")),
        block_text(last_user.get("content")),
    )


def _invalid(body: dict[str, Any]) -> str | None:
    """What the real API would refuse with a 400, or None."""
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    seen_tool_uses: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        for block in content if isinstance(content, list) else ():
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "tool_use":
                seen_tool_uses.add(str(block.get("id")))
            elif kind == "tool_result" and block.get("tool_use_id") not in seen_tool_uses:
                return f"messages.{i}: tool_result block(s) reference an unknown tool_use id"
            elif kind == "text" and not block.get("text"):
                return f"messages.{i}: text content blocks must be non-empty"
            elif kind not in ("text", "image", "tool_use", "tool_result", "document", "thinking"):
                return f"messages.{i}.content: unknown block type {kind!r}"
    return None


def _reply_for(request: SimRequest, stop: list[str]) -> Reply:
    body = request.body
    messages = body.get("messages") or []
    tools = [(t["name"], t.get("input_schema") or {}) for t in body.get("tools") or [] if "name" in t]
    choice = body.get("tool_choice") or {}
    last = messages[-1] if messages else {}
    last_content = last.get("content")
    system = body.get("system")
    chars = len(block_text(system)) + sum(len(block_text(m.get("content"), results=True)) for m in messages)
    return reply(
        model=request.model,
        prompt=request.prompt,
        prompt_chars=chars,
        last_is_tool_result=isinstance(last_content, list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in last_content),
        tools=tools,
        forced_tool=choice.get("name") if choice.get("type") == "tool" else None,
        tools_allowed=choice.get("type") != "none",
        json_schema=None,
        json_object=False,
        max_tokens=body.get("max_tokens"),
        stop=stop,
    )


def _stop_reason(request: SimRequest, r: Reply) -> tuple[str, str | None]:
    if r.tool_calls:
        return "tool_use", None
    if r.finish == "length":
        return "max_tokens", None
    stop = [s for s in request.body.get("stop_sequences") or [] if isinstance(s, str) and s]
    if stop and r.text is not None:
        full = _reply_for(request, [])
        for sequence in stop:
            if full.text is not None and full.text.find(sequence) == len(r.text):
                return "stop_sequence", sequence
    return "end_turn", None


def _tool_id(call_id: str) -> str:
    return "toolu_" + call_id.removeprefix("call_")


def _message_id(request: SimRequest) -> str:
    return "msg_" + hashlib.sha256(f"{request.request_id}{request.prompt}".encode()).hexdigest()[:24]


MIN_CACHEABLE_TOKENS = 1024  # Anthropic caches no prefix shorter than this (Sonnet/Opus figure)


def _segments(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt in cache order (tools, system, messages) as (text, has a cache_control mark)."""
    out: list[tuple[str, bool]] = []
    for tool in body.get("tools") or ():
        out.append(
            (encode(tool.get("input_schema") or {}).decode() + str(tool.get("name")), "cache_control" in tool)
        )
    system = body.get("system")
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else system or []
    for message in [{"content": blocks}, *(body.get("messages") or [])]:
        content = message.get("content")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            out.append((block_text([block], results=True), "cache_control" in block))
    return out


def cache_tokens(ctx: SimContext, request: SimRequest) -> tuple[int, int]:
    """(cache read, cache write) tokens: the prefix up to the last mark is read if seen before, else written."""
    segments = _segments(request.body)
    marks = [i for i, (_, marked) in enumerate(segments) if marked]
    if not marks:
        return 0, 0
    prefix = "\x00".join(text for text, _ in segments[: marks[-1] + 1])
    tokens = len(prefix) // 4
    if tokens < MIN_CACHEABLE_TOKENS:
        return 0, 0
    key = hashlib.sha256(f"{request.model}\x00{prefix}".encode()).hexdigest()
    if key in ctx.prompt_cache:
        return tokens, 0
    ctx.prompt_cache.add(key)
    return 0, tokens


def _usage(r: Reply, output_tokens: int, cache: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    read, written = cache
    return {
        "input_tokens": max(1, r.prompt_tokens - read - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "output_tokens": output_tokens,
    }


def _content(r: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if r.text:
        blocks.append({"type": "text", "text": r.text})
    for call in r.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": _tool_id(call.call_id),
                "name": call.name,
                "input": json.loads(call.arguments),
            }
        )
    return blocks


async def handle(ctx: SimContext, request: SimRequest, send: Send) -> int:
    fault = ctx.faults.pick(request.provider, request.model, request.prompt)
    await before_response(ctx, fault)
    status = await apply_error_fault(send, fault, error_body)
    if status is not None:
        return status
    problem = _invalid(request.body)
    if problem is not None:
        await send_json(
            send, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}
        )
        return 400
    stop = [s for s in request.body.get("stop_sequences") or [] if isinstance(s, str)]
    r = _reply_for(request, stop)
    cache = cache_tokens(ctx, request)
    stop_reason, stop_sequence = _stop_reason(request, r)
    message_id = _message_id(request)
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": _content(r),
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": _usage(r, r.completion_tokens, cache),
    }
    if not request.stream:
        if fault is not None and fault.malformed:
            await send_json(send, 200, {"id": "msg_broken", "type": "message"})
            return 200
        await send_json(send, 200, message, [(b"request-id", b"req_sim_" + message_id[4:].encode())])
        return 200
    await _stream(ctx, message, r, fault, send)
    return 200


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + encode(data) + b"\n\n"


def _frames(message: dict[str, Any], r: Reply) -> list[bytes]:
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**message["usage"], "output_tokens": 1},
    }
    frames = [_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            words = block["text"].split(" ")
            deltas = [
                {"type": "text_delta", "text": word if i == 0 else " " + word} for i, word in enumerate(words)
            ]
        else:
            opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            arguments = json.dumps(block["input"], separators=(",", ":"))
            step = max(1, len(arguments) // 4)
            deltas = [{"type": "input_json_delta", "partial_json": ""}] + [
                {"type": "input_json_delta", "partial_json": arguments[at : at + step]}
                for at in range(0, len(arguments), step)
            ]
        frames.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opened},
            )
        )
        if index == 0:
            frames.append(_event("ping", {"type": "ping"}))
        for delta in deltas:
            frames.append(
                _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        frames.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    frames.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
                "usage": {"output_tokens": r.completion_tokens},
            },
        )
    )
    frames.append(_event("message_stop", {"type": "message_stop"}))
    return frames


async def _stream(ctx: SimContext, message: dict[str, Any], r: Reply, fault: Any, send: Send) -> None:
    frames = _frames(message, r)
    await start_sse(send)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    await send_frames(
        ctx,
        frames,
        fault,
        send,
        error_event=_event("error", error),
        malformed_event=b"event: content_block_start\ndata: {not json\n\n",
    )
