"""The same upstream faults on every provider kind, seen through the official `openai` SDK.

429 keeps its Retry-After; an overloaded provider is retried, then reported (503 and Anthropic's 529 as 503, other
5xx as 502); 400 is the client's and is not retried; 401 is ours (502, in tiergate's words, no key echoed);
a connection dropped mid-stream ends the stream with an error event.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.openapi_schema import validate

# model -> (sim provider, its overloaded status, what the client then sees)
PROVIDERS = {
    "gpt-4o": ("openai", 503, 503),
    "claude-sonnet-4": ("anthropic", 529, 503),
    "gemini-2.5-flash": ("gemini", 503, 503),
}
CANARY = "sk-canary-5e4d3c2b1a"
HI = [{"role": "user", "content": "hello there"}]


KEYS = {"providers": {name: {"api_key_env": "CANARY_KEY"} for name in ("openai", "anthropic", "gemini")}}


@pytest.fixture
def keyed(make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CANARY_KEY", CANARY)
    return make_gateway(overrides=KEYS)


def post(gateway: Any, model: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", json={"model": model, "messages": HI, **extra}, timeout=20
    )


@pytest.mark.parametrize("model", list(PROVIDERS))
def test_faults(keyed: Any, sim: Sim, model: str, make_gateway: GatewayFactory) -> None:
    provider, overloaded, seen = PROVIDERS[model]
    faults = sim.app.ctx.faults

    faults.add(FaultRule(provider=provider, status=429, retry_after=30))
    limited = post(keyed, model)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    validate(limited.json(), "ErrorResponse")

    faults.clear()
    # The window is remembered: inside it that deployment is not tried at all. A fresh gateway goes on.
    waiting = post(keyed, model)
    assert waiting.status_code == 503 and sim.attempts(waiting.headers["x-request-id"]) == []
    keyed = make_gateway(overrides=KEYS)
    faults.add(FaultRule(provider=provider, status=overloaded, times=1))
    assert post(keyed, model).status_code == 200  # retried on the same deployment
    faults.add(FaultRule(provider=provider, status=overloaded))
    failed = post(keyed, model)
    assert failed.status_code == seen
    validate(failed.json(), "ErrorResponse")
    assert len(sim.attempts(failed.headers["x-request-id"])) == 2

    for status, expected in ((400, 400), (401, 502)):
        faults.clear()
        faults.add(FaultRule(provider=provider, status=status))
        response = post(keyed, model)
        assert response.status_code == expected
        validate(response.json(), "ErrorResponse")
        assert len(sim.attempts(response.headers["x-request-id"])) == 1
        assert CANARY not in response.text and CANARY not in str(response.headers)

    faults.clear()
    faults.add(FaultRule(provider=provider, stream_reset_after=3))
    stream = keyed.client().chat.completions.create(model=model, messages=HI, stream=True)
    received = 0
    with pytest.raises(openai.APIError):
        for _ in stream:
            received += 1
    assert received >= 1  # the break came after the stream was committed: an error event, not a switch


@pytest.mark.parametrize("model", list(PROVIDERS))
def test_malformed_stream_event_ends_the_stream_with_an_error_event(keyed: Any, sim: Sim, model: str) -> None:
    # The sim sends its first event, then (20 ms later, so in a later read) one that is not JSON: the frames
    # before it reach the client, then an error event in OpenAI's format, and no further attempt (the stream
    # was committed). Arriving in the first read, the same event fails the attempt before anything is sent.
    provider = PROVIDERS[model][0]
    sim.app.ctx.faults.add(FaultRule(provider=provider, malformed=True, chunk_ms=20))
    with httpx.stream(
        "POST",
        f"{keyed.url}/v1/chat/completions",
        json={"model": model, "messages": HI, "stream": True},
        timeout=20,
    ) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        request_id = response.headers["x-request-id"]
    assert len(events) >= 2 and '"error"' in events[-1] and "malformed" in events[-1].lower(), events
    assert all('"error"' not in event for event in events[:-1])
    assert len(sim.attempts(request_id)) == 1
