"""Two gateway processes sharing PostgreSQL and Redis keep one key's limits, budget, cache and
revocation consistent under concurrent load from both sides."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Sim
from tests.keys.conftest import chat, create_key, revoke_key, spend
from tests.keys.procs import Served, postgres_database, redis_prefix, serve, shared_config

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TIERGATE_TEST_POSTGRES_URL") and os.environ.get("TIERGATE_TEST_REDIS_URL")),
    reason="needs TIERGATE_TEST_POSTGRES_URL and TIERGATE_TEST_REDIS_URL",
)


@pytest.fixture(scope="module")
def pair(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Served]]:
    redis_url = os.environ["TIERGATE_TEST_REDIS_URL"]
    tmp: Path = tmp_path_factory.mktemp("pair")
    with postgres_database() as database:
        # A generous Redis timeout: these tests are about shared state, not Redis faults, and must not
        # trip the breaker on a CPU-starved machine.
        config = shared_config(
            sim.url, database, redis_url, redis_prefix(), cache={"enabled": True}, redis={"timeout_s": 5.0}
        )
        first = serve(config, tmp)
        try:
            second = serve(config, tmp)
            try:
                yield first, second
            finally:
                second.stop()
        finally:
            first.stop()


async def _burst(
    urls: list[str], secret: str, per_url: int, *, distinct: bool = False, **body: object
) -> list[int]:
    payload = {"model": "deepseek-v3", "messages": [{"role": "user", "content": "hello in a burst"}], **body}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=400)) as client:

        async def one(url: str, n: int) -> int:
            sent = payload
            if distinct:  # the shared response cache would answer a repeat for $0
                sent = {**payload, "messages": [*payload["messages"], {"role": "user", "content": f"#{n}"}]}  # type: ignore[list-item]
            response = await client.post(
                f"{url}/v1/chat/completions", json=sent, headers={"Authorization": f"Bearer {secret}"}
            )
            return response.status_code

        targets = [url for url in urls for _ in range(per_url)]
        return await asyncio.gather(*(one(url, n) for n, url in enumerate(targets)))


def test_rate_limit_holds_across_processes(pair: tuple[Served, Served]) -> None:
    a, b = pair
    created = create_key(a.url, rpm=25)
    statuses = asyncio.run(_burst([a.url, b.url], created["key"], 40))
    assert statuses.count(200) == 25
    assert statuses.count(429) == 55


def test_budget_holds_across_processes(pair: tuple[Served, Served], sim: Sim) -> None:
    a, b = pair
    created = create_key(a.url, budget_usd=0.02, budget_period="day")
    key_id = created["info"]["id"]
    # gpt-4o, a long prompt and max_tokens: each request reserves about $0.004.
    statuses = asyncio.run(
        _burst(
            [a.url, b.url],
            created["key"],
            30,
            distinct=True,
            model="gpt-4o",
            max_tokens=100,
            messages=[{"role": "user", "content": "Summarise the following text please. " * 100}],
        )
    )
    assert statuses.count(200) >= 2 and statuses.count(429) >= 40 and set(statuses) <= {200, 429}
    for served in pair:
        report = spend(served.url, key_id)
        assert report["committed_usd"] <= 0.02 and report["reserved_usd"] == 0
    assert spend(a.url, key_id)["committed_usd"] == spend(b.url, key_id)["committed_usd"]


def test_cache_hit_from_one_process_is_served_by_the_other(pair: tuple[Served, Served], sim: Sim) -> None:
    a, b = pair
    created = create_key(a.url)
    first = chat(a.url, created["key"], "tell me about shared caches")
    assert first.status_code == 200 and "x-tiergate-cache" not in first.headers
    second = chat(b.url, created["key"], "tell me about shared caches")
    assert second.headers.get("x-tiergate-cache") == "hit"
    assert second.json() == first.json()
    request_id = second.headers["x-request-id"]
    assert sim.attempts(request_id) == []


def test_revoked_key_fails_at_once_on_both(pair: tuple[Served, Served]) -> None:
    a, b = pair
    created = create_key(a.url)
    secret = created["key"]
    assert chat(a.url, secret).status_code == 200
    assert chat(b.url, secret).status_code == 200  # now cached in both processes
    revoke_key(a.url, created["info"]["id"])
    for served in (b, a):
        response = chat(served.url, secret)
        assert response.status_code == 401, served.url
        assert response.json()["error"]["code"] in ("key_revoked", "invalid_api_key")
