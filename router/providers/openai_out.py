"""OpenAI-format output for adapters that translate: chat.completion bodies and chunk frames.

Native adapters (Anthropic, Gemini) build their answers here so every provider's
output has the same shape: a stream opens with a `role: "assistant"` delta, a
tool call's first fragment carries its integer `index`, `id`, `type` and `name`
with `arguments: ""`, then argument fragments follow; the usage chunk
(`choices: []`) comes last and only when the client asked; `[DONE]` ends it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from router.errors import GatewayError, render_error
from router.providers.base import Usage

T = TypeVar("T")

_encoder = msgspec.json.Encoder()

DONE_FRAME = b"data: [DONE]\n\n"


@dataclass(slots=True)
class ToolCallOut:
    id: str
    name: str
    arguments: str

    def as_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


def completion_body(
    *,
    completion_id: str,
    model: str,
    text: str | None,
    tool_calls: list[ToolCallOut],
    finish_reason: str,
    usage: dict[str, Any] | None,
) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [call.as_openai() for call in tool_calls]
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return _encoder.encode(body)


def error_frame(error: GatewayError) -> bytes:
    """An OpenAI error event inside a stream (what a broken upstream stream ends with)."""
    return b"data: " + render_error(error)[2] + b"\n\n"


@dataclass(slots=True)
class ChunkWriter:
    """Builds `data: {chat.completion.chunk}` frames for one stream."""

    completion_id: str = ""
    model: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def frame(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        return b"data: " + _encoder.encode(chunk) + b"\n\n"

    def role(self) -> bytes:
        return self.frame({"role": "assistant", "content": ""})

    def text(self, text: str) -> bytes:
        return self.frame({"content": text})

    def tool_start(self, index: int, call_id: str, name: str) -> bytes:
        call = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return self.frame({"tool_calls": [call]})

    def tool_arguments(self, index: int, fragment: str) -> bytes:
        return self.frame({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def finish(self, reason: str) -> bytes:
        return self.frame({}, reason)

    def usage(self, usage: dict[str, Any]) -> bytes:
        chunk = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }
        return b"data: " + _encoder.encode(chunk) + b"\n\n"


def sse_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Split complete SSE events off `buffer` (CRLF tolerated); returns (events, rest)."""
    if b"\r" in buffer:
        buffer = buffer.replace(b"\r\n", b"\n")
    *events, rest = buffer.split(b"\n\n")
    return events, rest


def sse_data(event: bytes) -> tuple[str | None, bytes | None]:
    """(event name, joined data) of one SSE event."""
    name: str | None = None
    data: list[bytes] = []
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[5:].lstrip(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
    return name, (b"\n".join(data) if data else None)


def decode_sse(buffer: bytes, decode: Callable[[bytes], T]) -> tuple[list[T], bytes, bool]:
    """The complete SSE events at the front of `buffer`, each event's data decoded with `decode`, up to the
    first one that does not decode (`decode` raises ValueError, as msgspec's errors are); returns (decoded,
    rest of the buffer, whether one failed). Events without data are skipped."""
    events, rest = sse_events(buffer)
    decoded: list[T] = []
    for event in events:
        _, payload = sse_data(event)
        if payload is None:
            continue
        try:
            decoded.append(decode(payload))
        except ValueError:
            return decoded, rest, True
    return decoded, rest, False


def usage_body(usage: Usage, prompt_total: int | None = None) -> dict[str, Any]:
    """OpenAI's usage object; `prompt_total` overrides prompt_tokens where the provider bills
    some input separately (Anthropic's cache writes) but the client should see every input token."""
    body = usage.as_openai()
    if prompt_total is not None:
        body["prompt_tokens"] = prompt_total
        body["total_tokens"] = prompt_total + usage.completion_tokens
    return body
