"""OpenAI chat chunk frames -> Anthropic Messages stream events (`event:` and `data:` lines).

The stream opens with message_start and a ping; content deltas open a text block,
a tool call's first fragment (it carries the id) closes the open block and opens a
tool_use block whose argument fragments follow as input_json_delta; the finish
reason and the usage chunk become message_delta, then message_stop. An OpenAI
error event from a broken upstream becomes an Anthropic `error` event.
"""

from __future__ import annotations

from typing import Any

import msgspec

from router.messages.convert import STOP_REASONS, anthropic_usage, usage_from_openai
from router.providers.base import Usage
from router.providers.openai_out import sse_data, sse_events

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + _encode(payload) + b"\n\n"


def error_event(error_type: str, message: str) -> bytes:
    return event("error", {"type": "error", "error": {"type": error_type, "message": message}})


class MessageEvents:
    def __init__(self, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self._buffer = b""
        self._index = -1
        self._open: str | None = None  # "text" | "tool_use" | None
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool call index -> block index
        self.stop_reason = "end_turn"
        self.usage: Usage | None = None
        self.failed = False

    def start(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [
            event("message_start", {"type": "message_start", "message": message}),
            event("ping", {"type": "ping"}),
        ]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [event("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _begin(self, block: dict[str, Any]) -> list[bytes]:
        frames = self._close()
        self._index += 1
        self._open = block["type"]
        frames.append(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )
        return frames

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def feed(self, data: bytes) -> list[bytes]:
        events, self._buffer = sse_events(self._buffer + data)
        frames: list[bytes] = []
        for raw in events:
            _, payload = sse_data(raw)
            if payload is None or payload == b"[DONE]" or self.failed:
                continue
            try:
                chunk = _decode(payload)
            except msgspec.DecodeError:
                continue
            if isinstance(chunk, dict):
                frames.extend(self._chunk(chunk))
        return frames

    def _chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        if isinstance(chunk.get("error"), dict):
            self.failed = True
            return [error_event("api_error", str(chunk["error"].get("message", "upstream error")))]
        if chunk.get("usage") is not None:
            self.usage = usage_from_openai(chunk["usage"])
        frames: list[bytes] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self._open != "text":
                    frames.extend(self._begin({"type": "text", "text": ""}))
                frames.append(self._delta(self._index, {"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                position = int(call.get("index", 0))
                if call.get("id") or position not in self._tool_blocks:
                    block = {
                        "type": "tool_use",
                        "id": call.get("id", ""),
                        "name": function.get("name", ""),
                        "input": {},
                    }
                    frames.extend(self._begin(block))
                    self._tool_blocks[position] = self._index
                if function.get("arguments"):
                    fragment = {"type": "input_json_delta", "partial_json": function["arguments"]}
                    frames.append(self._delta(self._tool_blocks[position], fragment))
            if choice.get("finish_reason"):
                self.stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return frames

    def finish(self, usage: Usage | None) -> list[bytes]:
        frames = self._close()
        counts = anthropic_usage(usage or self.usage)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": counts,
        }
        frames.append(event("message_delta", delta))
        frames.append(event("message_stop", {"type": "message_stop"}))
        return frames
