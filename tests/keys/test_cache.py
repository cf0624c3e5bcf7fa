"""The response cache on one gateway: exact hits (plain and streamed), opt-out, logging of the cost
saved, and the opt-in semantic cache through a scorer's `embed()`."""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from router.log.schema import requests
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.openapi_schema import validate

CACHE_ON = {"keys": {"cache": {"enabled": True}}}


def _post(gateway: Gateway, content: str, **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", {})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=20)


def _stream(gateway: Gateway, content: str) -> tuple[httpx.Headers, list[str]]:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=20) as response:
        assert response.status_code == 200
        return response.headers, [line for line in response.iter_lines() if line.startswith("data: ")]


def _rows(gateway: Gateway, count: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while True:
        with gateway.engine.connect() as connection:
            rows = connection.execute(select(requests).order_by(requests.c.created_at)).all()
        if len(rows) >= count or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.05)


def test_exact_hit_is_free_and_logs_cost_saved(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = make_gateway(overrides=CACHE_ON)
    first = _post(gateway, "What does a cache do?", temperature=0)
    second = _post(gateway, "What does a cache do?", temperature=0)
    assert second.headers["x-tiergate-cache"] == "hit"
    assert second.json() == first.json()
    validate(second.json(), "CreateChatCompletionResponse")
    assert sim.attempts(second.headers["x-request-id"]) == []
    rows = _rows(gateway, 2)
    miss, hit = rows
    assert not miss.cache_hit and miss.cost_usd > 0
    assert hit.cache_hit and hit.cost_usd == 0 and Decimal(hit.cost_saved_usd) == Decimal(miss.cost_usd)


def test_parameters_that_change_the_answer_are_in_the_key(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides=CACHE_ON)
    _post(gateway, "Name three colours", temperature=0)
    assert "x-tiergate-cache" not in _post(gateway, "Name three colours", temperature=0.7).headers
    assert "x-tiergate-cache" not in _post(gateway, "Name three colours", temperature=0, max_tokens=5).headers
    # Transport-only fields do not split the cache.
    assert (
        _post(gateway, "Name three colours", temperature=0, user="u-1").headers["x-tiergate-cache"] == "hit"
    )


def test_no_cache_header_opts_out(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides=CACHE_ON)
    _post(gateway, "Fresh answer please")
    again = _post(gateway, "Fresh answer please", headers={"cache-control": "no-cache"})
    assert "x-tiergate-cache" not in again.headers


def test_streamed_hit_replays_the_same_sse(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = make_gateway(overrides=CACHE_ON)
    _, first = _stream(gateway, "Stream me something cacheable")
    headers, second = _stream(gateway, "Stream me something cacheable")
    assert headers["x-tiergate-cache"] == "hit"
    assert second == first and second[-1] == "data: [DONE]"
    for line in second[:-1]:
        validate(json.loads(line[6:]), "CreateChatCompletionStreamResponse")
    # A plain request is a different entry from a streamed one.
    assert "x-tiergate-cache" not in _post(gateway, "Stream me something cacheable").headers


class HashEmbedder:
    """A tiny stand-in for the classifier: bag of lower-cased words hashed into 64 dimensions."""

    version = "fake-embedder"

    async def score(self, messages: list[dict[str, Any]]) -> Any:
        raise AssertionError("not used: requests name their model")

    async def embed(self, text: str) -> np.ndarray:
        vector = np.zeros(64, dtype=np.float32)
        for word in text.lower().replace("?", " ").split():
            vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
        return vector

    async def aclose(self) -> None:
        return None


def test_semantic_cache_is_opt_in(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(
        overrides={"keys": {"cache": {"enabled": True, "semantic_threshold": 0.9}}}, scorer=HashEmbedder()
    )
    semantic = {"x-tiergate-cache": "semantic"}
    first = _post(gateway, "What is the capital of France?", headers=semantic)
    assert "x-tiergate-cache" not in first.headers
    similar = _post(gateway, "what is the capital of france", headers=semantic)
    assert similar.headers["x-tiergate-cache"] == "hit" and similar.json() == first.json()
    # Without opting in, a merely similar prompt is a miss; an unrelated one is a miss either way.
    assert "x-tiergate-cache" not in _post(gateway, "What is the capital of FRANCE?").headers
    assert (
        "x-tiergate-cache" not in _post(gateway, "Tell me a long joke about llamas", headers=semantic).headers
    )
