"""Per-request controls through the openai SDK: headers, the `tiergate` body object, and their 400s."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway, GatewayFactory, Sim

HELLO = [{"role": "user", "content": "hello"}]
# Pinned here so these expectations do not move with the sim's default config.
ROUTING = {
    "routing": {
        "tiers": {
            "simple": ["deepseek-v3", "gpt-4o-mini"],
            "reasoning": ["deepseek-r1", "gpt-4o"],
            "hard": ["gpt-4o"],
        }
    }
}


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway(overrides=ROUTING)


def routed(gateway: Gateway, **kwargs: Any) -> str:
    kwargs.setdefault("model", "auto")
    kwargs.setdefault("messages", HELLO)
    raw = gateway.client().chat.completions.with_raw_response.create(**kwargs)
    return str(raw.headers["x-tiergate-model"])


def bad(gateway: Gateway, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": HELLO, **body},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


def test_tier_by_header_or_body(gateway: Gateway) -> None:
    assert routed(gateway) == "deepseek-v3"
    assert routed(gateway, extra_headers={"x-tiergate-tier": "hard"}) == "gpt-4o"
    assert routed(gateway, extra_body={"tiergate": {"tier": "reasoning"}}) == "deepseek-r1"
    # The header wins over the body.
    both = {"extra_headers": {"x-tiergate-tier": "hard"}, "extra_body": {"tiergate": {"tier": "simple"}}}
    assert routed(gateway, **both) == "gpt-4o"


def test_models_restrict_candidates(gateway: Gateway, sim: Sim) -> None:
    assert routed(gateway, extra_headers={"x-tiergate-models": "gpt-4o-mini, gpt-4o"}) == "gpt-4o-mini"
    assert routed(gateway, extra_body={"tiergate": {"models": ["gpt-4o-mini"]}}) == "gpt-4o-mini"
    # An alias names its model.
    assert routed(gateway, extra_headers={"x-tiergate-models": "deepseek-chat"}) == "deepseek-v3"


def test_max_cost_drops_dearer_candidates_then_refuses(gateway: Gateway) -> None:
    # 1,000 output tokens: deepseek-v3 ~ $0.00110, gpt-4o-mini ~ $0.00060 (list prices per 1M tokens).
    assert routed(gateway, max_tokens=1000) == "deepseek-v3"
    capped = {"max_tokens": 1000, "extra_headers": {"x-tiergate-max-cost-usd": "0.0008"}}
    assert routed(gateway, **capped) == "gpt-4o-mini"
    assert (
        routed(gateway, max_tokens=1000, extra_body={"tiergate": {"max_cost_usd": 0.0008}}) == "gpt-4o-mini"
    )
    with pytest.raises(openai.BadRequestError) as info:
        routed(gateway, max_tokens=1000, extra_headers={"x-tiergate-max-cost-usd": "0.0001"})
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "max_cost_exceeded"
    assert body["param"] == "x-tiergate-max-cost-usd" and "0.0006" in body["message"]
    # An explicit model above the cap is refused too, never silently swapped.
    with pytest.raises(openai.BadRequestError):
        routed(gateway, model="gpt-4o", max_tokens=1000, extra_headers={"x-tiergate-max-cost-usd": "0.001"})


@pytest.mark.parametrize(
    ("body", "headers", "param"),
    [
        ({}, {"x-tiergate-tier": "medium"}, "x-tiergate-tier"),
        ({"tiergate": {"tier": "medium"}}, {}, "tiergate.tier"),
        ({}, {"x-tiergate-max-cost-usd": "cheap"}, "x-tiergate-max-cost-usd"),
        ({}, {"x-tiergate-max-cost-usd": "-1"}, "x-tiergate-max-cost-usd"),
        ({"tiergate": {"max_cost_usd": 0}}, {}, "tiergate.max_cost_usd"),
        ({}, {"x-tiergate-models": "gpt-4o,gpt-99"}, "x-tiergate-models"),
        ({"tiergate": {"models": ["nope"]}}, {}, "tiergate.models"),
        ({"tiergate": {"budget": 3}}, {}, "tiergate.budget"),
        ({"tiergate": "hard"}, {}, "tiergate"),
        ({"model": "gpt-4o"}, {"x-tiergate-models": "gpt-4o-mini"}, "x-tiergate-models"),
    ],
)
def test_unknown_values_are_400_naming_the_field(
    gateway: Gateway, body: dict[str, Any], headers: dict[str, str], param: str
) -> None:
    error = bad(gateway, body, **headers)
    assert error["param"] == param


def test_models_with_no_adequate_member_is_400(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides=ROUTING)
    # deepseek-r1 has no tools; asked for tools and restricted to it, nothing is adequate.
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    error = bad(
        gateway, {"tools": [tool]}, **{"x-tiergate-tier": "reasoning", "x-tiergate-models": "deepseek-r1"}
    )
    assert error["code"] == "no_adequate_model"
