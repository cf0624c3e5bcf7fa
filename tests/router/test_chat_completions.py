"""The chat endpoint through the official openai SDK, validated against OpenAI's OpenAPI schema."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway
from tests.openapi_schema import validate


def test_create_matches_openai_schema_and_headers(gateway: Gateway) -> None:
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello to the team"}], temperature=0.2
    )
    completion = raw.parse()
    validate(json.loads(raw.http_response.content), "CreateChatCompletionResponse")
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert raw.headers["x-tiergate-model"] == "gpt-4o"
    assert raw.headers["x-tiergate-tier"] == "hard"
    assert raw.headers["x-request-id"]
    assert float(raw.headers["x-tiergate-cost-usd"]) > 0


def test_stream_with_usage(gateway: Gateway) -> None:
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "deepseek-v3",
            "messages": [{"role": "user", "content": "Tell me about routing please"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        timeout=10,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert all(c.get("usage") is None for c in chunks[:-1])


def test_stream_without_usage_drops_usage_chunk(gateway: Gateway) -> None:
    stream = gateway.client().chat.completions.create(
        model="deepseek-v3", messages=[{"role": "user", "content": "hello there"}], stream=True
    )
    chunks = list(stream)
    assert all(chunk.choices for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(text.split()) >= 12


def test_fields_pass_through_unchanged(gateway: Gateway, sim: Any) -> None:
    """Tools, tool_choice, json_schema and sampling fields reach the upstream as sent."""
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    completion = gateway.client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[tool],  # type: ignore[list-item]
        tool_choice="auto",
        seed=7,
        top_p=0.5,
        max_completion_tokens=50,
        user="u1",
        parallel_tool_calls=False,
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "sample"}
    assert completion.choices[0].finish_reason == "tool_calls"


def test_json_schema_response_format(gateway: Gateway) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    completion = gateway.client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Give me a number"}],
        response_format={"type": "json_schema", "json_schema": {"name": "num", "schema": schema}},
    )
    assert json.loads(completion.choices[0].message.content or "") == {"n": 1}


def test_auto_routes_and_says_how(gateway: Gateway) -> None:
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-tiergate-tier"] == "simple"
    assert raw.headers["x-tiergate-model"] == "deepseek-v3"
    assert raw.headers["x-tiergate-router"] == "placeholder"


def test_alias_and_provider_slash_model(gateway: Gateway) -> None:
    client = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek-chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-tiergate-model"] == "deepseek-v3"
    completion = client.chat.completions.create(
        model="deepseek/deepseek-coder", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.model == "deepseek-coder"


def test_models_list_and_retrieve(gateway: Gateway) -> None:
    client = gateway.client()
    response = httpx.get(f"{gateway.url}/v1/models")
    validate(response.json(), "ListModelsResponse")
    ids = {m.id for m in client.models.list()}
    assert {"auto", "gpt-4o", "deepseek-v3", "deepseek-r1", "gpt-4o-mini", "deepseek-chat"} <= ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_health_and_ready(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.url}/ready").json()
    assert ready["status"] == "ready" and ready["checks"]["database"] == "ok"
