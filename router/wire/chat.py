"""OpenAI chat request fields the gateway validates.

The body itself is kept as the client sent it and passed on; this struct only
checks the fields a gateway must understand (or that would otherwise fail late
at the provider), so every error names its field. Unknown fields are allowed:
OpenAI adds parameters faster than any gateway can list them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class FunctionCall(msgspec.Struct):
    name: str
    arguments: str


class ToolCall(msgspec.Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class Message(msgspec.Struct):
    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class FunctionDef(msgspec.Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(msgspec.Struct):
    type: Literal["function"]
    function: FunctionDef


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class JsonSchemaFormat(msgspec.Struct):
    name: str
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(msgspec.Struct):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
TokenCount = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]


class ChatRequest(msgspec.Struct):
    model: str
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Probability | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: Annotated[float, msgspec.Meta(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, msgspec.Meta(ge=-2, le=2)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None

    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens
