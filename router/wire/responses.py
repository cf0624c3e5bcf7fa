"""OpenAI Responses API wire structs: the request fields the gateway understands, and the objects it returns.

The request struct checks what the gateway must interpret (input items and tools
are checked item by item in `router/responses/convert.py`, so each error names
its index). Unknown fields are allowed and ignored: `include`, `truncation`,
`prompt_cache_key`, `service_tier` and the like change nothing a gateway does.
The output structs encode exactly the fields of OpenAI's `Response` schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec


class TextFormat(msgspec.Struct):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class TextParam(msgspec.Struct):
    format: TextFormat | None = None
    verbosity: str | None = None


class ResponsesRequest(msgspec.Struct):
    model: str
    input: str | list[dict[str, Any]] = []
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    text: TextParam | None = None
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    stream: bool | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    reasoning: dict[str, Any] | None = None
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None


# ---- what the gateway returns -------------------------------------------------------------------


class OutputText(msgspec.Struct):
    text: str
    type: Literal["output_text"] = "output_text"
    annotations: list[Any] = []
    logprobs: list[Any] = []


class Refusal(msgspec.Struct):
    refusal: str
    type: Literal["refusal"] = "refusal"


class MessageItem(msgspec.Struct):
    id: str
    status: Literal["in_progress", "completed", "incomplete"]
    content: list[OutputText | Refusal]
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"


class FunctionCallItem(msgspec.Struct):
    id: str
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"]
    type: Literal["function_call"] = "function_call"


class CustomToolCallItem(msgspec.Struct):
    """A call of a `custom` (freeform) tool: its input is one string, e.g. a patch."""

    id: str
    call_id: str
    name: str
    input: str
    type: Literal["custom_tool_call"] = "custom_tool_call"


OutputItem = MessageItem | FunctionCallItem | CustomToolCallItem


class InputTokensDetails(msgspec.Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens_details: OutputTokensDetails


class ResponseError(msgspec.Struct):
    code: str
    message: str


class IncompleteDetails(msgspec.Struct):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseObject(msgspec.Struct):
    id: str
    created_at: int
    status: Literal["completed", "failed", "in_progress", "incomplete"]
    model: str
    output: list[OutputItem]
    instructions: str | None
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    text: dict[str, Any]
    temperature: float | None
    top_p: float | None
    max_output_tokens: int | None
    parallel_tool_calls: bool
    previous_response_id: str | None
    store: bool
    metadata: dict[str, str]
    object: Literal["response"] = "response"
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    usage: ResponseUsage | msgspec.UnsetType = msgspec.UNSET  # absent until known (the schema has no null)
    reasoning: dict[str, Any] = msgspec.field(default_factory=lambda: {"effort": None, "summary": None})
    truncation: str = "disabled"
    background: bool = False
    service_tier: str = "default"
    user: str | msgspec.UnsetType = msgspec.UNSET  # the schema allows a string or no field, not null

    def output_text(self) -> str:
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, MessageItem)
            for part in item.content
            if isinstance(part, OutputText)
        )
