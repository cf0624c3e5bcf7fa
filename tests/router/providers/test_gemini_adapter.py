"""The Gemini adapter: translation rules, the sim's wire format, and the gateway serving OpenAI clients from it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from router.errors import UpstreamError
from router.providers.base import Call
from router.providers.gemini import GeminiAdapter, encode_body
from router.settings import ProviderConfig
from router.sim.faults import FaultRule
from tests.conftest import Gateway, Sim
from tests.openapi_schema import validate

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": ["integer", "null"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
HI = [{"role": "user", "content": "hello there"}]


def test_request_translation_rules() -> None:
    out = encode_body(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather?"},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}],
                },
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"A"}'},
                        },
                        {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
                {"role": "tool", "tool_call_id": "c2", "content": "noon"},
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.webp"}}],
                },
            ],
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "temperature": 0.3,
            "top_p": 0.8,
            "max_tokens": 77,
            "stop": ["END"],
            "seed": 5,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": WEATHER["function"]["parameters"]},
            },  # type: ignore[index]
        }
    )
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in out["contents"]] == ["user", "model", "user"]
    user, model, results = out["contents"]
    assert user["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "AAA"}}
    assert model["parts"][0] == {"functionCall": {"name": "get_weather", "args": {"city": "A"}}}
    assert results["parts"][0] == {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}
    assert results["parts"][1] == {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}}
    assert results["parts"][2] == {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/a.webp"}}
    declaration = out["tools"][0]["functionDeclarations"][0]
    assert declaration["parameters"] == {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}, "days": {"type": "INTEGER", "nullable": True}},
        "required": ["city"],
    }
    assert out["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    config = out["generationConfig"]
    assert config["temperature"] == 0.3 and config["topP"] == 0.8 and config["maxOutputTokens"] == 77
    assert config["stopSequences"] == ["END"] and config["seed"] == 5
    assert config["responseMimeType"] == "application/json" and config["responseSchema"]["type"] == "OBJECT"


@pytest.mark.parametrize(
    "body",
    [
        {"messages": HI, "n": 3},
        {"messages": HI, "logprobs": True},
        {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]},
        {
            "messages": HI,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "r", "schema": {"$ref": "#/$defs/a"}},
            },
        },
    ],
)
def test_untranslatable_is_400(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as info:
        encode_body(body)
    assert info.value.status == 400 and not info.value.retryable


def test_url_and_key_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GEMINI_KEY", "g-key")
    provider = ProviderConfig(base_url="http://h/v1beta", kind="gemini", api_key_env="TEST_GEMINI_KEY")
    adapter = GeminiAdapter()
    request = adapter.encode_request(Call({"messages": HI}, "gemini-2.5-flash", True, False, "r"), provider)
    assert request.url == "http://h/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert request.headers["x-goog-api-key"] == "g-key" and "authorization" not in request.headers
    request = adapter.encode_request(Call({"messages": HI}, "gemini-2.5-pro", False, False, "r"), provider)
    assert request.url.endswith("/models/gemini-2.5-pro:generateContent")


def test_usage_and_finish_mapping() -> None:
    body = {
        "candidates": [
            {
                "content": {"parts": [{"text": "hm", "thought": True}, {"text": "Hi"}], "role": "model"},
                "finishReason": "MAX_TOKENS",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 7,
            "cachedContentTokenCount": 60,
            "totalTokenCount": 112,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "abc",
    }
    decoded = GeminiAdapter().decode_response(
        json.dumps(body).encode(), Call({}, "m", False, False, "r"), "gemini"
    )
    completion = json.loads(decoded.body)
    validate(completion, "CreateChatCompletionResponse")
    assert completion["choices"][0]["message"]["content"] == "Hi"
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"]["completion_tokens"] == 12
    assert completion["usage"]["prompt_tokens_details"]["cached_tokens"] == 60
    assert completion["usage"]["completion_tokens_details"]["reasoning_tokens"] == 7


def post(gateway: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=20)


def test_safety_block_is_a_clear_400(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="gemini", error_code="block:SAFETY"))
    response = post(gateway, {"model": "gemini-2.5-flash", "messages": HI})
    assert response.status_code == 400
    validate(response.json(), "ErrorResponse")
    assert (
        response.json()["error"]["code"] == "content_blocked"
        and "SAFETY" in response.json()["error"]["message"]
    )
    stream = post(gateway, {"model": "gemini-2.5-flash", "messages": HI, "stream": True})
    assert stream.status_code == 400 and stream.json()["error"]["code"] == "content_blocked"


def test_finish_safety_is_content_filter(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="gemini", error_code="finish:SAFETY"))
    completion = gateway.client().chat.completions.create(model="gemini-2.5-flash", messages=HI)  # type: ignore[arg-type]
    assert (
        completion.choices[0].finish_reason == "content_filter"
        and completion.choices[0].message.content is None
    )


def test_429_retry_info_and_retry_after(gateway: Gateway, sim: Sim, make_gateway: Any) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="gemini", status=429, retry_after=30))
    response = post(gateway, {"model": "gemini-2.5-flash", "messages": HI})
    assert response.status_code == 429 and response.headers["retry-after"] == "30"
    sim.app.ctx.faults.clear()
    # The gateway remembers the window: inside it the deployment is not tried at all.
    response = post(gateway, {"model": "gemini-2.5-flash", "messages": HI})
    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 25
    assert sim.attempts(response.headers["x-request-id"]) == []
    gateway = make_gateway()
    sim.app.ctx.faults.add(
        FaultRule(provider="gemini", status=429, times=1)
    )  # RetryInfo says 1s: retried, served
    assert post(gateway, {"model": "gemini-2.5-flash", "messages": HI}).status_code == 200


@pytest.mark.parametrize(("status", "code", "seen", "tries"), [(400, "API_KEY_INVALID", 502, 1)])
def test_errors(gateway: Gateway, sim: Sim, status: int, code: str | None, seen: int, tries: int) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="gemini", status=status, error_code=code))
    response = post(gateway, {"model": "gemini-2.5-flash", "messages": HI})
    assert response.status_code == seen
    validate(response.json(), "ErrorResponse")
    assert len(sim.attempts(response.headers["x-request-id"])) == tries


def test_reasoning_effort_is_a_thinking_budget() -> None:
    high = encode_body({"messages": HI, "reasoning_effort": "high"})
    assert high["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 24576}
    assert "generationConfig" not in encode_body({"messages": HI})
