"""One conformance suite for every provider adapter: the same conversations through OpenAI, Anthropic and
Gemini (each against its simulated API), streaming and not, with the official `openai` SDK as the client.

Every response and chunk is validated against OpenAI's schema; the assembled stream must equal the
non-streamed answer field by field; tool calls made by a provider are fed back to the same provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import openai
import pytest

from router.app import create_app
from router.log.store import upgrade
from router.serving import ServerThread
from router.settings import Settings
from router.sim.config import sim_config
from tests.conftest import Sim
from tests.openapi_schema import validate

MODELS = ["gpt-4o", "claude-sonnet-4", "gemini-2.5-flash"]
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
PARALLEL_HISTORY = [
    {"role": "user", "content": "Weather and time in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"c"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"zone":"CET"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
    {"role": "tool", "tool_call_id": "call_b", "content": "14:05"},
]

# name -> (request fields, what the answer must show)
CONVERSATIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "plain": (
        {"messages": [{"role": "user", "content": "Tell me how a gateway routes requests"}]},
        {"finish": "stop"},
    ),
    "multi_turn": (
        {
            "messages": [
                {"role": "user", "content": "Hi there"},
                {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": "Explain routing in two sentences"},
            ]
        },
        {"finish": "stop"},
    ),
    "system": (
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "What is a tier?"},
            ]
        },
        {"finish": "stop"},
    ),
    "image": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": PNG}},
                    ],
                }
            ]
        },
        {"finish": "stop"},
    ),
    "tool_call": (
        {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER, CLOCK]},
        {"finish": "tool_calls", "tool": ("get_weather", {"city": "sample", "unit": "c"})},
    ),
    "named_tool": (
        {
            "messages": [{"role": "user", "content": "What time is it?"}],
            "tools": [WEATHER, CLOCK],
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
        },
        {"finish": "tool_calls", "tool": ("get_time", {"zone": "sample"})},
    ),
    "parallel_tool_results": ({"messages": PARALLEL_HISTORY, "tools": [WEATHER, CLOCK]}, {"finish": "stop"}),
    "json_schema": (
        {
            "messages": [{"role": "user", "content": "Give me a number"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "num",
                    "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
                },
            },
        },
        {"finish": "stop", "json": {"n": 1}},
    ),
    "json_object": (
        {
            "messages": [{"role": "user", "content": "Answer in JSON"}],
            "response_format": {"type": "json_object"},
        },
        {"finish": "stop", "json": dict},
    ),
    "max_tokens": (
        {
            "messages": [
                {"role": "user", "content": "Write a very long essay about cost-aware routing " * 3}
            ],
            "max_tokens": 5,
        },
        {"finish": "length", "words": 5},
    ),
}


@dataclass
class Answer:
    text: str | None
    tools: list[tuple[str, str, str]]  # id, name, arguments
    finish: str | None
    usage: dict[str, Any] | None


@pytest.fixture(scope="module")
def client(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    url = f"sqlite:///{tmp_path_factory.mktemp('conformance') / 'log.db'}"
    upgrade(url)
    raw = sim_config(sim.url, url)
    raw["source"] = "<test>"
    with ServerThread(create_app(msgspec.convert(raw, Settings), load_classifier=False)) as server:
        yield openai.OpenAI(base_url=f"{server.url}/v1", api_key="test", max_retries=0)


def complete(client: openai.OpenAI, model: str, request: dict[str, Any]) -> Answer:
    raw = client.chat.completions.with_raw_response.create(model=model, **request)
    body = json.loads(raw.http_response.content)
    validate(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    calls = [
        (c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in choice["message"].get("tool_calls") or []
    ]
    return Answer(choice["message"]["content"], calls, choice["finish_reason"], body["usage"])


def stream_chunks(client: openai.OpenAI, model: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The raw chunks (validated as sent), read off the wire with the SDK's own HTTP client."""
    body = {"model": model, "stream": True, "stream_options": {"include_usage": True}, **request}
    url = str(client.base_url).rstrip("/") + "/chat/completions"
    with httpx.stream("POST", url, json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    return chunks


def stream(client: openai.OpenAI, model: str, request: dict[str, Any]) -> Answer:
    texts: list[str] = []
    calls: dict[int, list[str]] = {}
    finish, usage = None, None
    chunks = stream_chunks(client, model, request)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    for chunk in chunks:
        if chunk.get("usage") is not None:
            assert chunk["choices"] == [] and chunk is chunks[-1]
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            texts.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                assert isinstance(call["index"], int)
                function = call.get("function") or {}
                if call["index"] not in calls:
                    assert call["id"] and call["type"] == "function" and function["name"]
                    assert function["arguments"] == ""
                    calls[call["index"]] = [call["id"], function["name"], ""]
                else:
                    assert "id" not in call
                calls[call["index"]][2] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    text = "".join(texts)
    tools = [(c[0], c[1], c[2]) for _, c in sorted(calls.items())]
    return Answer(text or None, tools, finish, usage)


def check(answer: Answer, expect: dict[str, Any]) -> None:
    assert answer.finish == expect["finish"]
    assert (
        answer.usage is not None
        and answer.usage["prompt_tokens"] > 0
        and answer.usage["completion_tokens"] > 0
    )
    if "tool" in expect:
        name, arguments = expect["tool"]
        assert [(t[1], json.loads(t[2])) for t in answer.tools] == [(name, arguments)]
        assert answer.text is None
    else:
        assert answer.tools == [] and answer.text
    if expect.get("json") is dict:
        assert isinstance(json.loads(answer.text or ""), dict)
    elif "json" in expect:
        assert json.loads(answer.text or "") == expect["json"]
    if "words" in expect:
        assert len((answer.text or "").split()) == expect["words"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_conversation(client: openai.OpenAI, model: str, name: str) -> None:
    request, expect = CONVERSATIONS[name]
    whole = complete(client, model, request)
    check(whole, expect)
    streamed = stream(client, model, request)
    check(streamed, expect)
    # Field by field, the stream is the same answer (ids of generated tool calls may differ per response).
    assert streamed.text == whole.text
    assert [t[1:] for t in streamed.tools] == [t[1:] for t in whole.tools]
    assert streamed.finish == whole.finish and streamed.usage == whole.usage


@pytest.mark.parametrize("model", MODELS)
def test_tool_round_trip(client: openai.OpenAI, model: str) -> None:
    """The provider's own tool call, answered with a result, gets a text answer from the same provider."""
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    message = first.choices[0].message
    assert message.tool_calls
    messages.append(message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "sunny, 21C"})
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content


@pytest.mark.parametrize("model", MODELS)
def test_stop_sequences(client: openai.OpenAI, model: str) -> None:
    messages: list[Any] = [{"role": "user", "content": "Describe the routing policy in detail please"}]
    full = client.chat.completions.create(model=model, messages=messages).choices[0].message.content or ""
    word = full.split()[5]
    cut = full[: full.index(" " + word)]
    for streamed in (False, True):
        request = {"messages": messages, "stop": [" " + word]}
        answer = stream(client, model, request) if streamed else complete(client, model, request)
        assert answer.text == cut and answer.finish == "stop"


def test_same_answers_across_providers(client: openai.OpenAI) -> None:
    """Tool calls and JSON answers do not depend on the provider they went through."""
    for name in ("tool_call", "named_tool", "json_schema"):
        request, _ = CONVERSATIONS[name]
        answers = [complete(client, model, request) for model in MODELS]
        assert len({(a.text, tuple(t[1:] for t in a.tools), a.finish) for a in answers}) == 1, name
