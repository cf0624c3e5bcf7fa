"""The simulated OpenAI chat dialect (`/{provider}/v1/chat/completions`), exact to OpenAI's wire format."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from router.api.asgi import Send
from router.sim.answers import Reply, hedged, reply, text_of
from router.sim.common import (
    GoneWatch,
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
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def error_body(status: int, code: str | None) -> dict[str, Any]:
    kind = "insufficient_quota" if code == "insufficient_quota" else _ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": f"simulated error {status}", "type": kind, "param": None, "code": code}}


def _reply_for(request: SimRequest) -> Reply:
    body = request.body
    messages = body.get("messages") or []
    tools = [
        (t["function"]["name"], t["function"].get("parameters") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    choice = body.get("tool_choice")
    forced = choice["function"]["name"] if isinstance(choice, dict) and "function" in choice else None
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    stop = body.get("stop") or []
    return reply(
        model=request.model,
        prompt=request.prompt,
        prompt_chars=sum(len(text_of(m.get("content"))) for m in messages),
        last_is_tool_result=bool(messages) and messages[-1].get("role") == "tool",
        tools=tools,
        forced_tool=forced,
        tools_allowed=choice != "none",
        json_schema=schema if fmt.get("type") == "json_schema" else None,
        json_object=fmt.get("type") == "json_object",
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stop=[stop] if isinstance(stop, str) else list(stop),
    )


def _usage(r: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": r.reasoning_tokens},
    }


def _completion_id(request: SimRequest) -> str:
    return "chatcmpl-" + hashlib.sha256(f"{request.request_id}{request.prompt}".encode()).hexdigest()[:24]


def _message(r: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": r.text, "refusal": None}
    if r.tool_calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in r.tool_calls
        ]
    return message


async def handle(ctx: SimContext, request: SimRequest, send: Send) -> int:
    fault = ctx.faults.pick(request.provider, request.model, request.prompt)
    await before_response(ctx, fault)
    status = await apply_error_fault(send, fault, error_body)
    if status is not None:
        return status
    r = _reply_for(request)
    if fault is not None and fault.wrong:
        r = hedged(r)
    n = int(request.body.get("n") or 1)
    if not request.stream:
        if fault is not None and fault.hang == "after_headers":
            # Headers promise a body that does not come (a stalled upstream).
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
            )
            await asyncio.sleep(fault.hang_s)
            return 200
        if fault is not None and fault.malformed:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"id": "chatcmpl-broken", "choices": [{'})
            return 200
        payload: dict[str, Any] = {
            "id": _completion_id(request),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "system_fingerprint": "fp_tiergate_sim",
            "choices": [
                {"index": i, "message": _message(r), "logprobs": None, "finish_reason": r.finish}
                for i in range(n)
            ],
        }
        if fault is None or fault.usage:
            payload["usage"] = _usage(r)
        await send_json(send, 200, payload)
        return 200
    await _stream(ctx, request, r, n, fault, send)
    return 200


async def _stream(ctx: SimContext, request: SimRequest, r: Reply, n: int, fault: Any, send: Send) -> None:
    base = {
        "id": _completion_id(request),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": "fp_tiergate_sim",
    }

    def frame(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> bytes:
        chunk = {
            **base,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + encode(chunk) + b"\n\n"

    frames: list[bytes] = []
    for i in range(n):
        frames.append(frame({"role": "assistant", "content": "", "refusal": None}, index=i))
        if r.tool_calls:
            for k, call in enumerate(r.tool_calls):
                frames.append(
                    frame(
                        {
                            "tool_calls": [
                                {
                                    "index": k,
                                    "id": call.call_id,
                                    "type": "function",
                                    "function": {"name": call.name, "arguments": ""},
                                }
                            ]
                        },
                        index=i,
                    )
                )
                step = max(1, len(call.arguments) // 4)
                for at in range(0, len(call.arguments), step):
                    piece = call.arguments[at : at + step]
                    frames.append(
                        frame({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}, index=i)
                    )
        else:
            words = (r.text or "").split(" ")
            for w, word in enumerate(words):
                frames.append(frame({"content": word if w == 0 else " " + word}, index=i))
        frames.append(frame({}, r.finish, index=i))
    options = request.body.get("stream_options") or {}
    if options.get("include_usage") and (fault is None or fault.usage):
        frames.append(b"data: " + encode({**base, "choices": [], "usage": _usage(r)}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")

    await start_sse(send)
    paced = ctx.chunk_ms > 0 or (fault is not None and (fault.chunk_ms or 0) > 0)
    watch = GoneWatch(request) if paced else None
    try:
        await send_frames(
            ctx,
            frames,
            fault,
            send,
            error_event=_STREAM_ERROR,
            malformed_event=b"data: {not json\n\n",
            watch=watch,
        )
    finally:
        if watch is not None:
            watch.stop()


_STREAM_ERROR = (
    b"data: "
    + encode(
        {
            "error": {
                "message": "simulated stream failure",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    )
    + b"\n\n"
)
