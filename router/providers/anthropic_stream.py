"""Anthropic's stream events -> OpenAI chunk frames.

message_start opens the stream (role delta; input usage); content_block_start of a
tool_use opens a tool call (integer index, id, type, name, empty arguments);
input_json_delta fragments stream its arguments as they come; text_delta is
content; message_delta carries the stop reason (finish chunk) and cumulative
usage; message_stop ends it. ping is ignored; an `error` event (e.g. overloaded)
becomes the translator's error, so before the first frame the dispatcher falls
back and after it the client gets an error event. A stream that ends without
message_stop was cut: it ends with an error event, never a silent short answer.
"""

from __future__ import annotations

import msgspec

from router.errors import UpstreamError
from router.providers.base import Call, Usage, malformed
from router.providers.openai_out import DONE_FRAME, ChunkWriter, decode_sse, error_frame, usage_body
from router.providers.translate import response_schema
from router.wire import anthropic as wire

JSON_TOOL = "json_response"

_event_decoder = msgspec.json.Decoder(wire.StreamEvent)

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def usage_of(usage: wire.Usage | None) -> tuple[Usage, int]:
    """(Usage as billed, every input token). Cache writes are billed apart from prompt tokens."""
    if usage is None:
        return Usage(), 0
    read = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    plain = usage.input_tokens or 0
    billed = Usage(
        prompt_tokens=plain + read,
        completion_tokens=usage.output_tokens or 0,
        cached_tokens=read,
        cache_creation_tokens=written,
    )
    return billed, plain + read + written


def finish_reason_of(stop_reason: str | None) -> str:
    return _FINISH.get(stop_reason or "end_turn", "stop")


class AnthropicStreamTranslator:
    __slots__ = (
        "_buffer",
        "_call",
        "_json_blocks",
        "_provider",
        "_stopped",
        "_tools",
        "_usage",
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
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index
        self._json_blocks: set[int] = set()  # blocks of the response-format tool: their JSON is content
        self._usage = wire.Usage()
        self._stopped = False
        self.usage: Usage | None = None
        self.error: UpstreamError | None = None
        self.text_chars = 0
        self.events = 0  # each frame this translator writes is one event

    def feed(self, data: bytes) -> list[bytes]:
        events, self._buffer, bad = decode_sse(self._buffer + data, _event_decoder.decode)
        frames: list[bytes] = []
        for event in events:
            if self.error is None:
                frames.extend(self._event(event))
        if bad and self.error is None:
            self.error = malformed(self._provider, "stream event")
        self.events += len(frames)
        return frames

    def _event(self, event: wire.StreamEvent) -> list[bytes]:
        writer = self._writer
        kind = event.type
        if kind == "message_start" and event.message is not None:
            writer.completion_id = f"chatcmpl-{event.message.id}"
            writer.model = event.message.model
            self._merge_usage(event.message.usage)
            return [writer.role()]
        if kind == "content_block_start" and event.content_block is not None and event.index is not None:
            block = event.content_block
            if block.type == "text" and block.text:
                self.text_chars += len(block.text)
                return [writer.text(block.text)]
            if block.type == "tool_use":
                if block.name == JSON_TOOL and response_schema(self._call.body) is not None:
                    self._json_blocks.add(event.index)
                    return []
                position = len(self._tools)
                self._tools[event.index] = position
                return [writer.tool_start(position, block.id or "", block.name or "")]
            return []
        if kind == "content_block_delta" and event.delta is not None and event.index is not None:
            return self._delta(event.index, event.delta)
        if kind == "message_delta":
            self._merge_usage(event.usage)
            if event.delta is not None and event.delta.stop_reason is not None:
                reason = finish_reason_of(event.delta.stop_reason)
                if self._json_blocks and not self._tools:
                    reason = "stop"
                return [writer.finish(reason)]
            return []
        if kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            detail = event.error or wire.ErrorDetail()
            overloaded = detail.type in ("overloaded_error", "api_error", "rate_limit_error")
            self.error = UpstreamError(
                f"provider {self._provider!r} reported a stream error: {detail.type}",
                provider=self._provider,
                retryable=overloaded,
                fallback=True,
                error_type="stream_error",
                status=503 if detail.type == "overloaded_error" else 502,
            )
        return []

    def _delta(self, index: int, delta: wire.Delta) -> list[bytes]:
        writer = self._writer
        if delta.type == "text_delta" and delta.text:
            self.text_chars += len(delta.text)
            return [writer.text(delta.text)]
        if delta.type == "input_json_delta" and delta.partial_json:
            if index in self._json_blocks:
                self.text_chars += len(delta.partial_json)
                return [writer.text(delta.partial_json)]
            position = self._tools.get(index)
            if position is not None:
                return [writer.tool_arguments(position, delta.partial_json)]
        return []  # thinking, signature and citation deltas are not shown

    def _merge_usage(self, usage: wire.Usage | None) -> None:
        """Anthropic's counts are cumulative: a later value replaces an earlier one."""
        if usage is None:
            return
        current = self._usage
        for name in wire.Usage.__struct_fields__:
            value = getattr(usage, name)
            if value is not None:
                setattr(current, name, value)

    def finish(self) -> list[bytes]:
        if not self._stopped:
            error = UpstreamError(
                f"provider {self._provider!r} ended the stream before message_stop",
                provider=self._provider,
                error_type="stream_truncated",
            )
            self.events += 1
            return [error_frame(error)]
        usage, prompt_total = usage_of(self._usage)
        self.usage = usage
        frames = []
        if self._call.client_wants_usage:
            frames.append(self._writer.usage(usage_body(usage, prompt_total)))
        frames.append(DONE_FRAME)
        self.events += len(frames)
        return frames
