"""Wire rules real clients depend on, checked chunk by chunk for every provider dialect behind the gateway.

Each broke at least one popular client when missing: chat completion objects with id, object, created,
model and choices[].index; tool calls with type "function" and arguments as a JSON string; streams that
open with a role "assistant" delta, give every tool-call delta an integer index (the first fragment with
id, type, name and arguments ""), and with usage requested end with one chunk whose choices is [] and
whose usage is set, then `data: [DONE]`. The Responses API must hold the same way through every dialect.

A new dialect joins by adding one `Dialect` (a model of `router/sim/config.py` served in that dialect).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import pytest

from tests.conftest import Gateway
from tests.openapi_schema import validate
from tests.sse import chat_chunks, post_sse, responses_events


@dataclass(frozen=True)
class Dialect:
    name: str
    model: str


DIALECTS = [
    Dialect("openai", "gpt-4o"),
    Dialect("anthropic", "claude-sonnet-4"),
    Dialect("gemini", "gemini-2.5-flash"),
]

PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
    },
    "required": ["city", "days", "units"],
    "additionalProperties": False,
}
TOOL = {
    "type": "function",
    "function": {"name": "forecast", "description": "Weather forecast", "parameters": PARAMETERS},
}
ASK = [{"role": "user", "content": "What will the weather be in Oslo this week?"}]


@pytest.fixture(params=DIALECTS, ids=lambda d: d.name)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param  # type: ignore[no-any-return]


def post_json(gateway: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{gateway.url}{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_completion_object(gateway: Gateway, dialect: Dialect) -> None:
    body = post_json(gateway, "/v1/chat/completions", {"model": dialect.model, "messages": ASK})
    validate(body, "CreateChatCompletionResponse")
    assert isinstance(body["id"], str) and body["id"] and body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and isinstance(body["model"], str) and body["model"]
    assert [c["index"] for c in body["choices"]] == [0]
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str) and message["content"]
    assert (
        body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_tool_call_object(gateway: Gateway, dialect: Dialect) -> None:
    body = post_json(
        gateway, "/v1/chat/completions", {"model": dialect.model, "messages": ASK, "tools": [TOOL]}
    )
    validate(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and isinstance(call["id"], str) and call["id"]
    assert call["function"]["name"] == "forecast" and isinstance(call["function"]["arguments"], str)
    jsonschema.validate(json.loads(call["function"]["arguments"]), PARAMETERS)


def _check_chunks(chunks: list[dict[str, Any]]) -> None:
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["object"] == "chat.completion.chunk" and isinstance(chunk["created"], int)
        assert chunk["id"] == chunks[0]["id"] and isinstance(chunk["model"], str)
        assert all(isinstance(c["index"], int) for c in chunk["choices"])
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


def test_stream_text_with_usage(gateway: Gateway, dialect: Dialect) -> None:
    chunks = chat_chunks(
        f"{gateway.url}/v1/chat/completions",
        {"model": dialect.model, "messages": ASK, "stream_options": {"include_usage": True}},
    )
    _check_chunks(chunks)
    *body, last = chunks
    assert last["choices"] == [] and last["usage"]["completion_tokens"] > 0
    assert all(c["choices"] and c.get("usage") is None for c in body)
    assert body[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in body)
    assert len(text.split()) >= 12


def test_stream_without_usage(gateway: Gateway, dialect: Dialect) -> None:
    chunks = chat_chunks(f"{gateway.url}/v1/chat/completions", {"model": dialect.model, "messages": ASK})
    _check_chunks(chunks)
    assert all(c["choices"] and c.get("usage") is None for c in chunks)


def test_stream_tool_call_fragments(gateway: Gateway, dialect: Dialect) -> None:
    chunks = chat_chunks(
        f"{gateway.url}/v1/chat/completions",
        {"model": dialect.model, "messages": ASK, "tools": [TOOL], "stream_options": {"include_usage": True}},
    )
    _check_chunks(chunks)
    fragments = [
        fragment
        for c in chunks
        for choice in c["choices"]
        for fragment in choice["delta"].get("tool_calls") or []
    ]
    assert fragments and all(isinstance(f["index"], int) for f in fragments)
    first = fragments[0]
    assert (
        first["index"] == 0 and isinstance(first["id"], str) and first["id"] and first["type"] == "function"
    )
    assert first["function"]["name"] == "forecast" and first["function"]["arguments"] == ""
    assert all("id" not in f and "name" not in f.get("function", {}) for f in fragments[1:])
    arguments = "".join(f["function"].get("arguments", "") for f in fragments)
    jsonschema.validate(json.loads(arguments), PARAMETERS)
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls" and chunks[-1]["choices"] == []


def test_text_after_tool_result_and_tool_choice_none(gateway: Gateway, dialect: Dialect) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "forecast", "arguments": '{"city":"Oslo"}'},
    }
    history = [*ASK, {"role": "assistant", "content": None, "tool_calls": [call]}]
    history.append({"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"})
    after = post_json(
        gateway, "/v1/chat/completions", {"model": dialect.model, "messages": history, "tools": [TOOL]}
    )
    assert after["choices"][0]["finish_reason"] == "stop" and after["choices"][0]["message"]["content"]
    refused = post_json(
        gateway,
        "/v1/chat/completions",
        {"model": dialect.model, "messages": ASK, "tools": [TOOL], "tool_choice": "none"},
    )
    assert refused["choices"][0]["message"].get("tool_calls") is None
    assert refused["choices"][0]["message"]["content"]


def test_json_schema_answer_is_valid(gateway: Gateway, dialect: Dialect) -> None:
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["summary", "tags"],
        "additionalProperties": False,
    }
    body = post_json(
        gateway,
        "/v1/chat/completions",
        {
            "model": dialect.model,
            "messages": ASK,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "s", "schema": schema, "strict": True},
            },
        },
    )
    jsonschema.validate(json.loads(body["choices"][0]["message"]["content"]), schema)


def test_responses_api_through_dialect(gateway: Gateway, dialect: Dialect) -> None:
    url = f"{gateway.url}/v1/responses"
    response = post_json(gateway, "/v1/responses", {"model": dialect.model, "input": "Hello there"})
    validate(response, "Response")
    assert response["status"] == "completed" and response["output"][0]["content"][0]["text"]
    tool = {"type": "function", "name": "forecast", "parameters": PARAMETERS, "strict": True}
    events = responses_events(url, {"model": dialect.model, "input": ASK[0]["content"], "tools": [tool]})
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    jsonschema.validate(json.loads(done["arguments"]), PARAMETERS)
    assert events[-1]["type"] == "response.completed"
    text_events = responses_events(url, {"model": dialect.model, "input": "Hello there"})
    assert [e["type"] for e in text_events][-1] == "response.completed"


def _anthropic_events(gateway: Gateway, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    pairs = post_sse(f"{gateway.url}/v1/messages", {**body, "stream": True})
    events = []
    for name, data in pairs:
        event = json.loads(data)
        assert name == event["type"], "every data line follows an `event:` line naming its type"
        events.append((name, event))
    return events


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool_use"])
def test_anthropic_stream_order(gateway: Gateway, dialect: Dialect, tools: bool) -> None:
    """/v1/messages streams, whatever dialect serves them: Anthropic's documented event order."""
    body: dict[str, Any] = {"model": dialect.model, "max_tokens": 200, "messages": ASK}
    if tools:
        body["tools"] = [{"name": "forecast", "description": "Weather forecast", "input_schema": PARAMETERS}]
    events = [(n, e) for n, e in _anthropic_events(gateway, body) if n != "ping"]
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["role"] == "assistant" and start["content"] == [] and "input_tokens" in start["usage"]
    open_index: int | None = None
    blocks: dict[int, dict[str, Any]] = {}
    for name, event in events[1:-2]:
        if name == "content_block_start":
            assert open_index is None and event["index"] == len(blocks)
            open_index = event["index"]
            blocks[event["index"]] = {**event["content_block"], "json": ""}
        elif name == "content_block_delta":
            assert event["index"] == open_index
            delta = event["delta"]
            block = blocks[event["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                assert delta["type"] == "input_json_delta"
                block["json"] += delta["partial_json"]
        else:
            assert name == "content_block_stop" and event["index"] == open_index
            open_index = None
    assert open_index is None and blocks
    delta = events[-2][1]
    assert delta["usage"]["output_tokens"] > 0
    # translated streams learn the input count only at the end: message_delta carries it then
    assert max(start["usage"]["input_tokens"], delta["usage"].get("input_tokens") or 0) > 0
    if tools:
        assert delta["delta"]["stop_reason"] == "tool_use"
        (tool,) = [b for b in blocks.values() if b["type"] == "tool_use"]
        assert tool["name"] == "forecast" and tool["id"]
        jsonschema.validate(json.loads(tool["json"]), PARAMETERS)
    else:
        assert delta["delta"]["stop_reason"] == "end_turn"
        assert blocks[0]["type"] == "text" and len(blocks[0]["text"].split()) >= 12
