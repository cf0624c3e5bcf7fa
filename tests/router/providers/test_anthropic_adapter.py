"""The Anthropic adapter: translation rules on the request, and the gateway serving OpenAI clients from Claude."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from router.errors import UpstreamError
from router.providers.anthropic import AnthropicAdapter, encode_body
from router.providers.base import Call
from router.settings import ProviderConfig
from router.sim.faults import FaultRule
from tests.conftest import Gateway, Sim
from tests.openapi_schema import validate

PNG = "data:image/png;base64,iVBORw0KGgo="
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def encode(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    return encode_body(Call(body, "claude-x", stream, False, "req_1"), "anthropic")


def test_request_translation_rules() -> None:
    out = encode(
        {
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
                {"role": "user", "content": "Weather?"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"A"}'},
                        },
                        {
                            "id": "t2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"B"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "rain"}]},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}],
                },
            ],
            "tools": [WEATHER],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "stop": "END",
            "temperature": 1.7,
            "top_p": 0.9,
            "seed": 3,
            "user": "u-1",
        },
        stream=True,
    )
    assert out["system"] == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use metric."}]
    assert [t["role"] for t in out["messages"]] == ["user", "assistant", "user"]
    first, second, third = out["messages"]
    assert first["content"][0] == {"type": "text", "text": "Weather?"}
    assert first["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0KGgo=",
    }
    assert second["content"][0] == {"type": "text", "text": "Checking."}
    assert second["content"][1] == {
        "type": "tool_use",
        "id": "t1",
        "name": "get_weather",
        "input": {"city": "A"},
    }
    assert [b["type"] for b in third["content"]] == ["tool_result", "tool_result", "image"]
    assert third["content"][1] == {"type": "tool_result", "tool_use_id": "t2", "content": "rain"}
    assert third["content"][2]["source"] == {"type": "url", "url": "https://x.test/a.png"}
    assert out["tools"][0] == {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
    }
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert out["stop_sequences"] == ["END"] and out["temperature"] == 1.0 and "top_p" not in out
    assert out["max_tokens"] == 8192 and out["stream"] is True and out["metadata"] == {"user_id": "u-1"}
    assert "seed" not in out


def test_named_tool_choice_and_json_schema_tool() -> None:
    named = encode(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER],
            "max_tokens": 9,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        }
    )
    assert named["tool_choice"] == {"type": "tool", "name": "get_weather"} and named["max_tokens"] == 9
    assert encode({"messages": [{"role": "user", "content": "x"}], "top_p": 0.5})["top_p"] == 0.5
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    fmt = encode(
        {
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        }
    )
    assert fmt["tools"][0]["input_schema"] == schema
    assert fmt["tool_choice"] == {"type": "tool", "name": "json_response"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"top_logprobs": 2}, "logprobs")],
)
def test_untranslatable_fields_are_refused(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(UpstreamError) as info:
        encode({"messages": [{"role": "user", "content": "x"}], **extra})
    assert info.value.status == 400 and info.value.param == param and not info.value.retryable


def test_audio_part_is_refused() -> None:
    with pytest.raises(UpstreamError):
        encode({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})


def test_headers_and_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", "sk-ant-test")
    provider = ProviderConfig(base_url="http://h/v1", kind="anthropic", api_key_env="TEST_ANTHROPIC_KEY")
    request = AnthropicAdapter().encode_request(
        Call({"messages": [{"role": "user", "content": "x"}]}, "claude-x", False, False, "r"), provider
    )
    assert request.url == "http://h/v1/messages"
    assert (
        request.headers["x-api-key"] == "sk-ant-test" and request.headers["anthropic-version"] == "2023-06-01"
    )
    assert "authorization" not in request.headers


def test_usage_with_cache_tokens() -> None:
    body = json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "s"},
                {"type": "text", "text": "Hi"},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "output_tokens": 4,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 50,
            },
        }
    ).encode()
    call = Call({"messages": []}, "claude-x", False, False, "r")
    decoded = AnthropicAdapter().decode_response(body, call, "anthropic")
    completion = json.loads(decoded.body)
    validate(completion, "CreateChatCompletionResponse")
    assert completion["choices"][0]["message"]["content"] == "Hi"
    assert completion["usage"]["prompt_tokens"] == 160
    assert completion["usage"]["prompt_tokens_details"]["cached_tokens"] == 100
    assert decoded.usage is not None
    assert (
        decoded.usage.prompt_tokens,
        decoded.usage.cached_tokens,
        decoded.usage.cache_creation_tokens,
    ) == (110, 100, 50)


def post(gateway: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=20)


HI = [{"role": "user", "content": "hello there"}]


def test_529_is_retried_then_503(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=529, times=1))
    response = gateway.client().chat.completions.with_raw_response.create(
        model="claude-sonnet-4", messages=HI
    )  # type: ignore[arg-type]
    assert response.parse().choices[0].message.content
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=529))
    failed = post(gateway, {"model": "claude-sonnet-4", "messages": HI})
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "overloaded"
    attempts = sim.attempts(failed.headers["x-request-id"])
    assert len(attempts) == 2 and {a["status"] for a in attempts} == {529}


def test_stream_error_event_before_first_frame_falls_back(make_gateway: Any, sim: Sim) -> None:
    gateway = make_gateway(overrides={"routing": {"tiers": {"hard": ["claude-sonnet-4", "gpt-4o"]}}})
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", stream_error_after=0))
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="auto", messages=HI, stream=True, extra_headers={"x-tiergate-tier": "hard"}
    )
    chunks = list(raw.parse())
    assert raw.headers["x-tiergate-model"] == "gpt-4o"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_cache_marks_kept_for_claude_and_stripped_for_openai() -> None:
    from router.providers.cache_control import CACHE_MARK
    from router.providers.gemini import GeminiAdapter
    from router.providers.openai_compat import OpenAICompatAdapter

    mark = {"type": "ephemeral"}
    body = {
        CACHE_MARK: True,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Rules.", "cache_control": mark}]},
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "cache_control": mark,
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "sunny", "cache_control": mark},
        ],
        "tools": [{**WEATHER, "cache_control": mark}],
    }
    out = encode(body)
    assert out["system"][0]["cache_control"] == mark and out["tools"][0]["cache_control"] == mark
    assert out["messages"][1]["content"][0]["cache_control"] == mark
    assert out["messages"][2]["content"][0]["cache_control"] == mark and CACHE_MARK not in out
    provider = ProviderConfig(base_url="http://h/v1")
    call = Call(body, "m", False, False, "r")
    for adapter in (OpenAICompatAdapter(), GeminiAdapter()):
        sent = adapter.encode_request(call, provider).body
        assert b"cache_control" not in sent and CACHE_MARK.encode() not in sent
    assert body["messages"][0]["content"][0]["cache_control"] == mark  # the client's body is not mutated
