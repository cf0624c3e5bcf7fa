"""`POST /v1/messages` through the official `anthropic` SDK: every provider behind it, streaming and not,
Anthropic's error body, and one log row per request with endpoint "messages"."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import pytest
from sqlalchemy import select

from router.log.schema import requests
from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim

MODELS = ["gpt-4o", "claude-sonnet-4", "gemini-2.5-flash"]
PNG_DATA = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLOCK = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}}
TOOL_HISTORY = [
    {"role": "user", "content": "Weather and time in Paris?"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"zone": "CET"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": [{"type": "text", "text": "14:05"}]},
        ],
    },
]

# name -> (request fields, expected stop_reason, expected tool (name, input) or None)
CASES: dict[str, tuple[dict[str, Any], str, tuple[str, dict[str, Any]] | None]] = {
    "plain": ({"messages": [{"role": "user", "content": "How does routing work?"}]}, "end_turn", None),
    "system_blocks": (
        {
            "system": [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Use metric."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is a tier?"}]}],
        },
        "end_turn",
        None,
    ),
    "multi_turn": (
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Explain fallbacks"},
            ]
        },
        "end_turn",
        None,
    ),
    "images": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare these pictures"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG_DATA},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.png"}},
                    ],
                }
            ]
        },
        "end_turn",
        None,
    ),
    "tool_use": (
        {"messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [WEATHER, CLOCK]},
        "tool_use",
        ("get_weather", {"city": "sample"}),
    ),
    "tool_choice_tool": (
        {
            "messages": [{"role": "user", "content": "Time?"}],
            "tools": [WEATHER, CLOCK],
            "tool_choice": {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
        },
        "tool_use",
        ("get_time", {"zone": "sample"}),
    ),
    "tool_results": ({"messages": TOOL_HISTORY, "tools": [WEATHER, CLOCK]}, "end_turn", None),
    "max_tokens": (
        {"messages": [{"role": "user", "content": "Write a long essay on gateways " * 4}], "max_tokens": 4},
        "max_tokens",
        None,
    ),
}


def client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="test-key", max_retries=0)


def summary(message: Any) -> tuple[Any, ...]:
    blocks = tuple(
        (b.type, getattr(b, "text", None), getattr(b, "name", None), json.dumps(getattr(b, "input", None)))
        for b in message.content
    )
    usage = (message.usage.input_tokens, message.usage.output_tokens, message.usage.cache_read_input_tokens)
    return blocks, message.stop_reason, usage


@pytest.mark.parametrize("model", MODELS)
def test_cases_round_trip(gateway: Gateway, model: str) -> None:
    sdk = client(gateway)
    for name, (fields, stop_reason, tool) in CASES.items():
        request = {"model": model, "max_tokens": 200, **fields, "metadata": {"user_id": "u-7"}}
        whole = sdk.messages.create(**request)
        assert whole.stop_reason == stop_reason, name
        assert whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0
        if tool is not None:
            uses = [b for b in whole.content if b.type == "tool_use"]
            assert [(b.name, b.input) for b in uses] == [tool], name
            assert all(b.id for b in uses)
        else:
            assert whole.content[0].type == "text" and whole.content[0].text, name
        if name == "max_tokens":
            assert len(whole.content[0].text.split()) == 4  # type: ignore[union-attr]
        with sdk.messages.stream(**request) as stream:
            kinds = [event.type for event in stream]
            streamed = stream.get_final_message()
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop", name
        assert summary(streamed) == summary(whole), name


def test_stop_sequences(gateway: Gateway) -> None:
    sdk = client(gateway)
    request: dict[str, Any] = {
        "model": "claude-sonnet-4",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Describe routing policy"}],
    }
    full = sdk.messages.create(**request).content[0].text  # type: ignore[union-attr]
    word = full.split()[3]
    stopped = sdk.messages.create(**request, stop_sequences=[" " + word])
    assert stopped.content[0].text == full[: full.index(" " + word)]  # type: ignore[union-attr]
    assert stopped.stop_reason == "end_turn"


def test_sse_wire_format(gateway: Gateway) -> None:
    """Every event has `event:` equal to its data's type, in Anthropic's documented order."""
    body = {
        "model": "gemini-2.5-flash",
        "max_tokens": 100,
        "stream": True,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "Weather?"}],
    }
    names: list[str] = []
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                assert json.loads(line[6:])["type"] == name
                names.append(name or "")
    assert names[:2] == ["message_start", "ping"]
    assert names[2:] == [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_auto_routing_headers_and_log_row(gateway: Gateway) -> None:
    raw = client(gateway).messages.with_raw_response.create(
        model="auto",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"authorization": "Bearer other-key", "x-request-id": "msg-log-1"},
    )
    message = raw.parse()
    assert raw.headers["x-tiergate-model"] == "deepseek-v3" and raw.headers["x-tiergate-tier"] == "simple"
    assert message.model == "deepseek-v3" and raw.headers["request-id"] == "msg-log-1"
    row: dict[str, Any] = {}
    deadline = time.monotonic() + 15
    while not row and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            found = connection.execute(select(requests).where(requests.c.id == "msg-log-1")).first()
        row = dict(found._mapping) if found is not None else {}
        time.sleep(0.05)
    assert row["endpoint"] == "messages" and row["model"] == "deepseek-v3" and row["status"] == "ok"
    assert row["requested_model"] == "auto" and row["completion_tokens"] == message.usage.output_tokens


def anthropic_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    return body["error"]  # type: ignore[no-any-return]


def test_invalid_requests_get_anthropic_errors(gateway: Gateway) -> None:
    url = f"{gateway.url}/v1/messages"
    missing = httpx.post(url, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 400 and anthropic_error(missing)["type"] == "invalid_request_error"
    assert "max_tokens" in anthropic_error(missing)["message"]
    broken = httpx.post(url, content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and anthropic_error(broken)["type"] == "invalid_request_error"
    server_tool = {
        "model": "gpt-4o",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    }
    assert httpx.post(url, json=server_tool).status_code == 400
    with pytest.raises(anthropic.NotFoundError) as info:
        client(gateway).messages.create(
            model="no-such", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "not_found_error"


def test_upstream_errors(gateway: Gateway, sim: Sim) -> None:
    url = f"{gateway.url}/v1/messages"
    body = {"model": "claude-sonnet-4", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=429, retry_after=30))
    limited = httpx.post(url, json=body, timeout=20)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    assert anthropic_error(limited)["type"] == "rate_limit_error"
    sim.app.ctx.faults.clear()
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=529))
    overloaded = httpx.post(url, json=body, timeout=20)
    assert overloaded.status_code == 503 and anthropic_error(overloaded)["type"] == "overloaded_error"


def test_mid_stream_break_is_an_error_event(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", stream_reset_after=4))
    with (
        pytest.raises(anthropic.APIStatusError),
        client(gateway).messages.stream(
            model="gpt-4o", max_tokens=200, messages=[{"role": "user", "content": "Tell me a long story"}]
        ) as stream,
    ):
        for _ in stream:
            pass
    # Logged as an error with the number of upstream frames that got through (the sim resets after 4).
    deadline = time.monotonic() + 10
    broken: list[Any] = []
    while not broken and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            broken = list(connection.execute(select(requests).where(requests.c.endpoint == "messages")))
        time.sleep(0.05)
    assert len(broken) == 1 and broken[0].status == "error" and broken[0].stream_broke_at == 4


LONG_SYSTEM = "You are the support assistant for a gateway that routes requests between models. " * 80


def test_prompt_cache_marks_reach_claude_and_nobody_else(gateway: Gateway, sim: Sim) -> None:
    sdk = client(gateway)
    request: dict[str, Any] = {
        "max_tokens": 50,
        "system": [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}],
        "tools": [{**WEATHER, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Is the cache warm?"}]}],
    }
    first = sdk.messages.create(model="claude-sonnet-4", **request)
    assert first.usage.cache_creation_input_tokens and not first.usage.cache_read_input_tokens
    with sdk.messages.stream(model="claude-sonnet-4", **request) as stream:
        second = stream.get_final_message()
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    # The same marks sent towards OpenAI and Gemini are dropped there (they have no such field) and the calls work.
    for model in ("gpt-4o", "gemini-2.5-flash"):
        assert sdk.messages.create(model=model, **request).stop_reason == "tool_use"


def test_openai_format_marks_reach_claude(gateway: Gateway) -> None:
    """OpenAI-format clients may mark content parts with `cache_control` (the convention other gateways use)."""
    openai_client = gateway.client()
    messages: list[Any] = [
        {
            "role": "system",
            "content": [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}],
        },
        {"role": "user", "content": "Is the cache warm?"},
    ]
    openai_client.chat.completions.create(model="claude-sonnet-4", messages=messages)
    again = openai_client.chat.completions.create(model="claude-sonnet-4", messages=messages)
    assert again.usage is not None and again.usage.prompt_tokens_details is not None
    assert (
        again.usage.prompt_tokens_details.cached_tokens
        and again.usage.prompt_tokens > again.usage.prompt_tokens_details.cached_tokens
    )


def test_cache_writes_and_reads_are_priced_at_their_rates(gateway: Gateway) -> None:
    from decimal import Decimal

    sdk = client(gateway)
    request: dict[str, Any] = {
        "model": "claude-sonnet-4",
        "max_tokens": 20,
        "system": [{"type": "text", "text": LONG_SYSTEM + "priced", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    ids = ["cache-price-write", "cache-price-read"]
    usages = [sdk.messages.create(**request, extra_headers={"x-request-id": rid}).usage for rid in ids]
    rows: dict[str, Any] = {}
    deadline = time.monotonic() + 15
    while len(rows) < 2 and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            found = connection.execute(select(requests).where(requests.c.id.in_(ids))).all()
        rows = {r._mapping["id"]: dict(r._mapping) for r in found}
        time.sleep(0.05)
    # claude-sonnet-4: input 3, cache write 3.75, cache read 0.30, output 15 (USD per 1M tokens)
    for rid, usage in zip(ids, usages, strict=True):
        expected = (
            usage.input_tokens * Decimal(3)
            + (usage.cache_creation_input_tokens or 0) * Decimal("3.75")
            + (usage.cache_read_input_tokens or 0) * Decimal("0.3")
            + usage.output_tokens * Decimal(15)
        ) / 10**6
        assert Decimal(rows[rid]["cost_usd"]) == expected, rid
    assert usages[0].cache_creation_input_tokens and usages[1].cache_read_input_tokens
    assert rows["cache-price-read"]["cached_tokens"] == usages[1].cache_read_input_tokens


def test_cache_hits_are_answered_in_anthropic_format(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"keys": {"cache": {"enabled": True}}})
    sdk = client(gateway)
    request: dict[str, Any] = {
        "model": "gemini-2.5-flash",
        "max_tokens": 100,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "Weather in Rome, cached?"}],
    }
    first = sdk.messages.create(**request)
    hit = sdk.messages.with_raw_response.create(**request)
    assert hit.headers.get("x-tiergate-cache") == "hit"
    assert summary(hit.parse())[:2] == summary(first)[:2]
    with sdk.messages.stream(**request) as stream:
        fresh = stream.get_final_message()
    with sdk.messages.with_streaming_response.create(**request, stream=True) as raw:
        assert raw.headers.get("x-tiergate-cache") == "hit"
    with sdk.messages.stream(**request) as stream:
        replayed = stream.get_final_message()
    assert summary(replayed)[:2] == summary(fresh)[:2] == summary(first)[:2]
