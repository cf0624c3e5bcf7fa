"""Scenario 3 (our part): tiergate's own rate-limit and budget 429s carry `x-should-retry: false`, so the
official SDKs, which retry 429s by default, make exactly one request."""

from __future__ import annotations

import time

import openai
import pytest
from sqlalchemy import func, select

from router.log.schema import requests
from tests.conftest import GatewayFactory
from tests.keys.conftest import MASTER, create_key


def _refused_rows(engine: object, expected: int) -> int:
    deadline = time.monotonic() + 10
    while True:
        with engine.connect() as connection:  # type: ignore[attr-defined]
            count = int(
                connection.execute(
                    select(func.count()).select_from(requests).where(requests.c.http_status == 429)
                ).scalar_one()
            )
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_own_429s_are_not_retried_by_the_sdk(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    gateway = make_gateway()
    limited = create_key(gateway.url, rpm=1)["key"]
    broke = create_key(gateway.url, budget_usd=0.000001)["key"]
    messages = [{"role": "user", "content": "hello"}]
    client = gateway.client(api_key=limited, max_retries=3)
    client.chat.completions.create(model="deepseek-v3", messages=messages)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as limit_error:
        client.chat.completions.create(model="deepseek-v3", messages=messages)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as budget_error:
        gateway.client(api_key=broke, max_retries=3).chat.completions.create(
            model="gpt-4o",
            messages=messages,  # type: ignore[arg-type]
        )
    assert limit_error.value.response.headers["x-should-retry"] == "false"
    assert budget_error.value.code == "budget_exceeded"
    time.sleep(0.5)  # any retry would have landed by now (the SDK backs off ~0.5 s first)
    assert _refused_rows(gateway.engine, 2) == 2  # one request each: no retries
