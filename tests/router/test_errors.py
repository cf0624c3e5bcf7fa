"""Bad input and upstream failures come back in OpenAI's error format with the right status."""

from __future__ import annotations

import httpx
import openai
import pytest

from router.sim.faults import FaultRule
from tests.conftest import Gateway, Sim
from tests.openapi_schema import validate

MESSAGES = [{"role": "user", "content": "hello"}]


def post(gateway: Gateway, content: bytes | str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=10,
    )


def test_malformed_json_is_400(gateway: Gateway) -> None:
    response = post(gateway, b'{"model": "gpt-4o", "messages": [')
    assert response.status_code == 400
    validate(response.json(), "ErrorResponse")
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_invalid_field_names_it(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gateway.client().chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=7)  # type: ignore[arg-type]
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == "temperature"
    response = post(gateway, '{"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}')
    assert response.status_code == 400 and "messages[0].role" in response.json()["error"]["message"]
    response = post(gateway, '{"model": "gpt-4o"}')
    assert response.status_code == 400 and "messages" in response.json()["error"]["message"]


def test_unknown_model_is_404(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        gateway.client().chat.completions.create(model="gpt-17", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.code == "model_not_found"


def test_body_over_limit_is_413(make_gateway: object) -> None:
    gateway = make_gateway(overrides={"server": {"max_body_bytes": 2000}})  # type: ignore[operator]
    big = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + "x" * 5000 + '"}]}'
    response = post(gateway, big)
    assert response.status_code == 413
    validate(response.json(), "ErrorResponse")


def test_upstream_429_keeps_retry_after(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=429, retry_after=30))
    response = post(gateway, '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    validate(response.json(), "ErrorResponse")


def test_upstream_500_is_502_naming_provider(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=500))
    with pytest.raises(openai.InternalServerError) as info:
        gateway.client().chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    assert "'openai'" in info.value.message


def test_unreachable_upstream_is_502(make_gateway: object) -> None:
    gateway = make_gateway(overrides={"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}})  # type: ignore[operator]
    response = post(gateway, '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
    assert response.status_code == 502
    assert "openai" in response.json()["error"]["message"]


def test_provider_key_never_echoed(make_gateway: object, sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "sk-canary-9f8e7d6c5b4a"
    monkeypatch.setenv("CANARY_OPENAI_KEY", canary)
    gateway = make_gateway(overrides={"providers": {"openai": {"api_key_env": "CANARY_OPENAI_KEY"}}})  # type: ignore[operator]
    for status in (400, 401, 403, 429, 500):
        sim.app.ctx.faults.clear()
        sim.app.ctx.faults.add(FaultRule(provider="openai", status=status))
        response = post(gateway, '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
        assert response.status_code >= 400
        assert canary not in response.text and canary not in str(response.headers)
