"""The simulated Gemini API (`/{provider}/v1beta/models/{model}:generateContent` and
`:streamGenerateContent`, answered as `alt=sse`), exact to Google's wire format.

Refuses what the real API refuses (roles other than user/model, a functionResponse
without a name, empty contents). Fault `error_code` values specific to Gemini:
`block:<REASON>` answers with `promptFeedback.blockReason` and no candidates;
`finish:<REASON>` ends the candidate with that finishReason and no content.
"""

from __future__ import annotations

import hashlib
from typing import Any

from router.api.asgi import Send
from router.sim.answers import Reply, reply
from router.sim.common import (
    SimContext,
    SimRequest,
    apply_error_fault,
    before_response,
    decode,
    encode,
    send_frames,
    send_json,
    start_sse,
)

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


def error_body(status: int, code: str | None) -> dict[str, Any]:
    if status == 400 and code == "API_KEY_INVALID":
        details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
        return _error(400, "API key not valid. Please pass a valid API key.", details)
    if status == 429:
        details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
        return _error(429, "Resource has been exhausted (e.g. check quota).", details)
    return _error(status, f"simulated error {status}")


def parts_text(parts: Any) -> str:
    return (
        " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
        if isinstance(parts, list)
        else ""
    )


def parse(provider: str, path: str, body: dict[str, Any], request_id: str | None) -> SimRequest:
    tail = path.rsplit("/models/", 1)[-1]
    model, _, method = tail.partition(":")
    contents = body.get("contents") or []
    last_user = next((c for c in reversed(contents) if isinstance(c, dict) and c.get("role") == "user"), {})
    return SimRequest(
        provider,
        "gemini",
        model,
        body,
        request_id,
        method == "streamGenerateContent",
        parts_text(last_user.get("parts")),
    )


def json_schema_of(schema: Any) -> Any:
    """Gemini's Schema back to JSON Schema (lower-case types) for the shared answer logic."""
    if isinstance(schema, list):
        return [json_schema_of(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: json_schema_of(v) for k, v in schema.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: json_schema_of(v) for k, v in schema["properties"].items()}
    return out


def _invalid(body: dict[str, Any]) -> str | None:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
            return f"* GenerateContentRequest.contents[{i}].role: Please use a valid role: user, model."
        for part in content.get("parts") or ():
            response = part.get("functionResponse") if isinstance(part, dict) else None
            if isinstance(response, dict) and not response.get("name"):
                return f"* GenerateContentRequest.contents[{i}].parts: function_response.name: Name cannot be empty."
    return None


def _reply_for(request: SimRequest) -> Reply:
    body = request.body
    contents = body.get("contents") or []
    tools = [
        (d["name"], json_schema_of(d.get("parameters") or {}))
        for t in body.get("tools") or []
        for d in (t.get("functionDeclarations") or [])
        if "name" in d
    ]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames") or []
    config = body.get("generationConfig") or {}
    is_json = config.get("responseMimeType") == "application/json"
    schema = config.get("responseSchema")
    last_parts = (contents[-1].get("parts") if contents else None) or []
    chars = len(parts_text((body.get("systemInstruction") or {}).get("parts"))) + sum(
        len(parts_text(c.get("parts"))) for c in contents
    )
    return reply(
        model=request.model,
        prompt=request.prompt,
        prompt_chars=chars,
        last_is_tool_result=any(isinstance(p, dict) and "functionResponse" in p for p in last_parts),
        tools=tools,
        forced_tool=allowed[0] if calling.get("mode") == "ANY" and allowed else None,
        tools_allowed=calling.get("mode") != "NONE",
        json_schema=json_schema_of(schema) if is_json and isinstance(schema, dict) else None,
        json_object=is_json and not isinstance(schema, dict),
        max_tokens=config.get("maxOutputTokens"),
        stop=[s for s in config.get("stopSequences") or [] if isinstance(s, str)],
    )


def _usage(r: Reply, thoughts: bool = True) -> dict[str, Any]:
    usage = {
        "promptTokenCount": r.prompt_tokens,
        "candidatesTokenCount": r.completion_tokens - r.reasoning_tokens,
        "totalTokenCount": r.prompt_tokens + r.completion_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": r.prompt_tokens}],
    }
    if r.reasoning_tokens and thoughts:
        usage["thoughtsTokenCount"] = r.reasoning_tokens
    return usage


def _response_id(request: SimRequest) -> str:
    return hashlib.sha256(f"{request.request_id}{request.prompt}".encode()).hexdigest()[:22]


def _parts(r: Reply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if r.text:
        parts.append({"text": r.text})
    for call in r.tool_calls:
        parts.append({"functionCall": {"name": call.name, "args": decode(call.arguments)}})
    return parts


def _finish(r: Reply) -> str:
    return "MAX_TOKENS" if r.finish == "length" else "STOP"


async def handle(ctx: SimContext, request: SimRequest, send: Send) -> int:
    fault = ctx.faults.pick(request.provider, request.model, request.prompt)
    await before_response(ctx, fault)
    status = await apply_error_fault(send, fault, error_body)
    if status is not None:
        return status
    problem = _invalid(request.body)
    if problem is not None:
        await send_json(send, 400, _error(400, problem))
        return 400
    r = _reply_for(request)
    base = {"modelVersion": request.model, "responseId": _response_id(request)}
    special = fault.error_code if fault is not None and fault.error_code else ""
    if special.startswith("block:"):
        blocked = {"promptFeedback": {"blockReason": special[6:]}, "usageMetadata": _usage(r), **base}
        if request.stream:
            await start_sse(send)
            await send({"type": "http.response.body", "body": b"data: " + encode(blocked) + b"\r\n\r\n"})
        else:
            await send_json(send, 200, blocked)
        return 200
    candidate: dict[str, Any] = {
        "content": {"parts": _parts(r), "role": "model"},
        "finishReason": _finish(r),
        "index": 0,
    }
    if special.startswith("finish:"):
        candidate = {"finishReason": special[7:], "index": 0}
    if not request.stream:
        if fault is not None and fault.malformed:
            await send_json(send, 200, {"candidates": [{"content": "broken"}]})
            return 200
        await send_json(send, 200, {"candidates": [candidate], "usageMetadata": _usage(r), **base})
        return 200
    await _stream(ctx, r, candidate, base, fault, send)
    return 200


def _frames(r: Reply, candidate: dict[str, Any], base: dict[str, Any]) -> list[bytes]:
    def event(payload: dict[str, Any]) -> bytes:
        return b"data: " + encode(payload) + b"\r\n\r\n"

    parts = (candidate.get("content") or {}).get("parts") or []
    pieces: list[dict[str, Any]] = []
    for part in parts:
        if "text" in part:
            words = part["text"].split(" ")
            pieces.extend(
                {"text": " ".join(words[at : at + 3]) + (" " if at + 3 < len(words) else "")}
                for at in range(0, len(words), 3)
            )
        else:
            pieces.append(part)
    frames = []
    optional: list[dict[str, Any] | None] = [*pieces] if pieces else [None]
    for piece in optional:
        content = {"parts": [piece], "role": "model"} if piece else None
        partial: dict[str, Any] = {"index": 0}
        if content is not None:
            partial["content"] = content
        frames.append(
            {"candidates": [partial], "usageMetadata": {"promptTokenCount": r.prompt_tokens}, **base}
        )
    last = frames[-1]["candidates"][0]
    last["finishReason"] = candidate["finishReason"]
    frames[-1]["usageMetadata"] = _usage(r)
    return [event(f) for f in frames]


async def _stream(
    ctx: SimContext, r: Reply, candidate: dict[str, Any], base: dict[str, Any], fault: Any, send: Send
) -> None:
    frames = _frames(r, candidate, base)
    await start_sse(send)
    overloaded = _error(503, "The model is overloaded. Please try again later.")
    await send_frames(
        ctx,
        frames,
        fault,
        send,
        error_event=b"data: " + encode(overloaded) + b"\r\n\r\n",
        malformed_event=b"data: {not json\r\n\r\n",
    )
