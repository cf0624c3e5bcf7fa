"""Gemini's SSE stream (`alt=sse`: one GenerateContentResponse per `data:` event) -> OpenAI chunk frames.

Gemini has no explicit start or end event: the first response opens the stream
(role delta), text parts become content deltas, a functionCall arrives whole and
becomes a tool call's first fragment plus one arguments fragment, the response
carrying `finishReason` gives the finish chunk, and the last `usageMetadata`
seen is the usage. A stream that ends without a finishReason was cut and ends
with an error event. An `error` object or a blocked prompt becomes the
translator's error (before the first frame the dispatcher falls back on it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

from router.errors import UpstreamError
from router.providers.base import Call, Usage, malformed
from router.providers.openai_out import DONE_FRAME, ChunkWriter, decode_sse, error_frame, usage_body

NAME = "gemini"

_decode = msgspec.json.Decoder().decode


def _decode_object(payload: bytes) -> dict[str, Any]:
    parsed = _decode(payload)
    if not isinstance(parsed, dict):
        raise ValueError("a Gemini stream event is a JSON object")
    return parsed


_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "content_filter",
}

NAME = "gemini"


def finish_reason_of(reason: str | None, has_calls: bool) -> str:
    mapped = _FINISH.get(reason or "STOP", "stop")
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def call_id(response_id: str, position: int, name: str) -> str:
    return "call_" + hashlib.sha256(f"{response_id}\x00{position}\x00{name}".encode()).hexdigest()[:24]


def usage_of(metadata: Any) -> Usage | None:
    if not isinstance(metadata, dict):
        return None
    thoughts = int(metadata.get("thoughtsTokenCount") or 0)
    return Usage(
        prompt_tokens=int(metadata.get("promptTokenCount") or 0),
        completion_tokens=int(metadata.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=int(metadata.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def blocked_error(feedback: Any) -> UpstreamError | None:
    """A prompt Gemini refused outright: a clear 400 (another provider is not tried: same content, same rules)."""
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if not reason:
        return None
    return UpstreamError(
        f"provider {NAME!r} blocked the prompt ({reason})",
        provider=NAME,
        retryable=False,
        fallback=False,
        error_type="content_blocked",
        status=400,
        code="content_blocked",
    )


class GeminiStreamTranslator:
    __slots__ = (
        "_buffer",
        "_call",
        "_calls",
        "_finished",
        "_opened",
        "_provider",
        "_writer",
        "error",
        "events",
        "text_chars",
        "usage",
    )

    def __init__(self, call: Call, provider_name: str) -> None:
        self._call = call
        self._provider = provider_name
        self._buffer = b""
        self._writer = ChunkWriter()
        self._opened = False
        self._calls = 0
        self._finished = False
        self.usage: Usage | None = None
        self.error: UpstreamError | None = None
        self.text_chars = 0
        self.events = 0  # each frame this translator writes is one event

    def feed(self, data: bytes) -> list[bytes]:
        events, self._buffer, bad = decode_sse(self._buffer + data, _decode_object)
        frames: list[bytes] = []
        for event in events:
            if self.error is None:
                frames.extend(self._response(event))
        if bad and self.error is None:
            self.error = malformed(self._provider, "stream event")
        self.events += len(frames)
        return frames

    def _response(self, payload: dict[str, Any]) -> list[bytes]:
        if isinstance(payload.get("error"), dict):
            code = payload["error"].get("code")
            retryable = isinstance(code, int) and (code == 429 or code >= 500)
            self.error = UpstreamError(
                f"provider {self._provider!r} reported a stream error: {payload['error'].get('status', code)}",
                provider=self._provider,
                retryable=retryable,
                error_type="stream_error",
            )
            return []
        candidates = payload.get("candidates") or []
        if not candidates:
            blocked = blocked_error(payload.get("promptFeedback"))
            if blocked is not None:
                self.error = blocked
                return []
        writer = self._writer
        frames: list[bytes] = []
        if not self._opened:
            self._opened = True
            writer.completion_id = f"chatcmpl-{payload.get('responseId') or 'gemini'}"
            writer.model = str(payload.get("modelVersion") or "")
            frames.append(writer.role())
        usage = usage_of(payload.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        for part in (candidate.get("content") or {}).get("parts") or ():
            if not isinstance(part, dict) or part.get("thought"):
                continue
            if isinstance(part.get("text"), str) and part["text"]:
                self.text_chars += len(part["text"])
                frames.append(writer.text(part["text"]))
            elif isinstance(part.get("functionCall"), dict):
                function = part["functionCall"]
                name = str(function.get("name", ""))
                identifier = function.get("id") or call_id(
                    str(payload.get("responseId") or ""), self._calls, name
                )
                frames.append(writer.tool_start(self._calls, identifier, name))
                arguments = json.dumps(function.get("args") or {}, separators=(",", ":"))
                frames.append(writer.tool_arguments(self._calls, arguments))
                self._calls += 1
        if candidate.get("finishReason"):
            self._finished = True
            frames.append(writer.finish(finish_reason_of(candidate["finishReason"], self._calls > 0)))
        return frames

    def finish(self) -> list[bytes]:
        if not self._finished:
            error = UpstreamError(
                f"provider {self._provider!r} ended the stream without a finishReason",
                provider=self._provider,
                error_type="stream_truncated",
            )
            self.events += 1
            return [error_frame(error)]
        frames = []
        if self._call.client_wants_usage and self.usage is not None:
            frames.append(self._writer.usage(usage_body(self.usage)))
        frames.append(DONE_FRAME)
        self.events += len(frames)
        return frames
