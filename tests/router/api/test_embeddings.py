"""`POST /v1/embeddings` through the official openai SDK: passed to the provider, priced, logged."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import openai
import pytest
from sqlalchemy import select

from router.catalog import ModelIndex
from router.log.schema import requests as requests_table
from router.policy import Needs, candidates_for_tier
from router.settings import Settings
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import Gateway, Sim
from tests.openapi_schema import validate


def log_rows(gateway: Gateway, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    rows: dict[str, Any] = {}
    while len(rows) < count and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            rows = {r.id: r for r in connection.execute(select(requests_table))}
        time.sleep(0.05)
    return rows


def test_sdk_embeddings_are_deterministic_unit_vectors(gateway: Gateway) -> None:
    result = gateway.client().embeddings.create(
        model="text-embedding-3-small", input=["the cat sat", "on the mat", "the cat sat"]
    )
    vectors = [d.embedding for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2] and all(len(v) == 1536 for v in vectors)
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert math.isclose(sum(x * x for x in vectors[1]), 1.0, rel_tol=1e-4)
    assert result.usage.prompt_tokens > 0 and result.model == "text-embedding-3-small"


def test_float_format_matches_schema_and_is_priced(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={
            "model": "text-embedding-3-large",
            "input": "hello world",
            "dimensions": 256,
            "encoding_format": "float",
        },
        headers={"x-request-id": "emb-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "CreateEmbeddingResponse")
    assert len(body["data"][0]["embedding"]) == 256
    assert response.headers["x-tiergate-model"] == "text-embedding-3-large"
    row = log_rows(gateway, 1)["emb-1"]
    assert row.endpoint == "embeddings" and row.status == "ok" and row.model == "text-embedding-3-large"
    assert row.prompt_tokens == body["usage"]["prompt_tokens"] and row.completion_tokens == 0
    assert Decimal(row.cost_usd) == Decimal(row.prompt_tokens) * Decimal("0.13") / 10**6
    assert row.cost_estimated is False


def test_token_array_input(gateway: Gateway) -> None:
    result = gateway.client().embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]])
    assert len(result.data) == 2 and result.usage.prompt_tokens == 5


@pytest.mark.parametrize(
    ("model", "error", "fragment"),
    [
        ("auto", openai.BadRequestError, "auto"),
        ("gpt-4o", openai.BadRequestError, "not an embedding model"),
        ("anthropic/claude-x", openai.BadRequestError, "offers no embeddings"),
        ("no-such-model", openai.NotFoundError, "does not exist"),
    ],
)
def test_refusals(gateway: Gateway, model: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        gateway.client().embeddings.create(model=model, input="hi")
    assert fragment in str(caught.value)


def test_empty_input_is_400(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/embeddings", json={"model": "text-embedding-3-small", "input": []}
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "input"


def test_upstream_error_is_retried_and_logged(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(model="text-embedding-3-small", status=503, times=1))
    gateway.client().embeddings.create(
        model="text-embedding-3-small", input="retry me", extra_headers={"x-request-id": "emb-retry"}
    )
    row = log_rows(gateway, 1)["emb-retry"]
    assert row.attempt_count == 2 and row.status == "ok"


def test_embedding_models_are_never_chat_candidates(sim: Sim) -> None:
    raw = sim_config(sim.url, "sqlite://")
    raw["routing"]["tiers"] = {}
    index = ModelIndex(msgspec.convert({**raw, "source": "<test>"}, Settings))
    assert "text-embedding-3-small" in index.models
    for tier in ("simple", "reasoning", "hard"):
        names = [m.name for m in candidates_for_tier(index, index._settings.routing, tier, Needs(10, None))]  # type: ignore[arg-type]
        assert names and not any("embedding" in name for name in names)


def test_gemini_embeddings_translated(gateway: Gateway) -> None:
    client = gateway.client()
    result = client.embeddings.create(
        model="gemini-embedding-001",
        input=["alpha", "beta", "alpha"],
        dimensions=768,
        extra_headers={"x-request-id": "emb-gemini"},
    )
    vectors = [d.embedding for d in result.data]
    assert all(len(v) == 768 for v in vectors) and vectors[0] == vectors[2] != vectors[1]
    raw = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "gemini-embedding-001", "input": "hello", "encoding_format": "float"},
    )
    validate(raw.json(), "CreateEmbeddingResponse")
    assert len(raw.json()["data"][0]["embedding"]) == 3072
    row = log_rows(gateway, 1)["emb-gemini"]
    # Gemini reports no usage: the gateway counts locally and says the cost is an estimate
    assert row.endpoint == "embeddings" and row.provider == "gemini" and row.cost_estimated is True
    assert row.prompt_tokens == result.usage.prompt_tokens > 0
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="gemini-embedding-001", input=[[1, 2, 3]])
