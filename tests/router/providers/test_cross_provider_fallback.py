"""A failing provider's request is served by another provider's model, in OpenAI's format, unnoticed by the client."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from router.sim.faults import FaultRule
from tests.conftest import Sim

HARD = {"routing": {"tiers": {"hard": ["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro"]}}}
TIER = {"x-tiergate-tier": "hard"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def providers_tried(sim: Sim, request_id: str) -> list[str]:
    return [a["provider"] for a in sim.attempts(request_id)]


def test_openai_500_is_served_by_claude(make_gateway: Any, sim: Sim) -> None:
    gateway = make_gateway(overrides=HARD)
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=500))
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER],
        extra_headers=TIER,
    )
    completion = raw.parse()
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4"
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "sample"}
    assert completion.choices[0].finish_reason == "tool_calls"
    # A failure moves on to the next candidate at once; openai would only be retried in a later round.
    assert providers_tried(sim, raw.headers["x-request-id"]) == ["openai", "anthropic"]


def test_openai_and_claude_down_stream_served_by_gemini(make_gateway: Any, sim: Sim) -> None:
    gateway = make_gateway(overrides={**HARD, "routing": {**HARD["routing"], "retry": {"max_attempts": 6}}})
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=500))
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=529))
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Tell me about fallbacks"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=TIER,
    )
    chunks = list(raw.parse())
    assert raw.headers["x-tiergate-model"] == "gemini-2.5-pro"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert providers_tried(sim, raw.headers["x-request-id"])[-1] == "gemini"


def test_untranslatable_request_skips_to_a_provider_that_can(make_gateway: Any, sim: Sim) -> None:
    gateway = make_gateway(overrides={"routing": {"tiers": {"hard": ["claude-sonnet-4", "gpt-4o"]}}})
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Two takes please"}], n=2, extra_headers=TIER
    )
    assert raw.headers["x-tiergate-model"] == "gpt-4o" and len(raw.parse().choices) == 2
    with pytest.raises(openai.BadRequestError) as info:
        gateway.client().chat.completions.create(
            model="claude-sonnet-4", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert info.value.code == "unsupported_parameter" and "n > 1" in info.value.message
