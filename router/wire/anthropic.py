"""Anthropic Messages API wire structs (msgspec): what the adapter reads and what `/v1/messages` accepts.

Content blocks and stream events are single structs with optional fields, keyed
by `type`, rather than tagged unions: Anthropic adds block and event types often
(thinking, citations, server tools) and an unknown one must be skipped, not fail
the whole response.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec


class Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class Block(msgspec.Struct):
    type: str
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: Any = None


class Message(msgspec.Struct):
    id: str
    model: str
    content: list[Block]
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    type: str = "message"
    role: str = "assistant"


class Delta(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None


class ErrorDetail(msgspec.Struct):
    type: str = "api_error"
    message: str = ""


class StreamEvent(msgspec.Struct):
    type: str
    index: int | None = None
    message: Message | None = None
    content_block: Block | None = None
    delta: Delta | None = None
    usage: Usage | None = None
    error: ErrorDetail | None = None


class ErrorEnvelope(msgspec.Struct):
    error: ErrorDetail | None = None
    type: str = "error"


# --- the request `/v1/messages` accepts (validated; the raw dict is what gets converted) ---

Role = Literal["user", "assistant"]


class RequestMessage(msgspec.Struct):
    role: Role
    content: str | list[dict[str, Any]]


class RequestTool(msgspec.Struct):
    name: str
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    type: str | None = None


class ToolChoice(msgspec.Struct):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(msgspec.Struct):
    user_id: str | None = None


class MessagesRequest(msgspec.Struct):
    model: str
    messages: Annotated[list[RequestMessage], msgspec.Meta(min_length=1)]
    max_tokens: Annotated[int, msgspec.Meta(ge=1)]
    system: str | list[dict[str, Any]] | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    tools: list[RequestTool] | None = None
    tool_choice: ToolChoice | None = None
    metadata: Metadata | None = None
