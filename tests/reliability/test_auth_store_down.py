"""Scenario 13: auth while the key store (PostgreSQL) is blackholed.

A key this process has seen keeps working (answered from memory; the store is asked again about once a
second, with a bounded wait); an unknown key, a revoked one, and a valid key never seen here are refused
with 401 (they cannot be verified); once the store is back, every valid key works again.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import GatewayFactory
from tests.faultproxy import FaultProxy
from tests.keys.conftest import MASTER, chat, create_key, revoke_key


def test_auth_survives_key_store_outage(
    make_gateway: GatewayFactory, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    url = make_url(postgres_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        keys = {"key_cache_ttl_s": 1.0, "store_timeout_s": 0.5}
        gateway = make_gateway(overrides={"keys": keys}, database_url=proxied)
        seen = create_key(gateway.url, name="seen")["key"]
        revoked = create_key(gateway.url, name="revoked")
        unseen = create_key(gateway.url, name="unseen")["key"]
        assert chat(gateway.url, seen).status_code == 200
        assert chat(gateway.url, revoked["key"]).status_code == 200
        revoke_key(gateway.url, revoked["info"]["id"])

        proxy.set_mode("blackhole")
        time.sleep(1.2)  # past the key cache TTL: every cached key is due for a re-read
        outage = [chat(gateway.url, seen, f"during the outage {i}").status_code for i in range(20)]
        refused = {
            "unknown": chat(gateway.url, "tg-never-issued-0000"),
            "revoked": chat(gateway.url, revoked["key"]),
            "unseen": chat(gateway.url, unseen),
        }
        ready = httpx.get(f"{gateway.url}/ready", timeout=10).json()
        proxy.set_mode("pass")

        after: list[int] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = chat(gateway.url, unseen, "after the outage").status_code
            after.append(status)
            if status == 200:
                break
            time.sleep(0.5)
        assert chat(gateway.url, seen, "after, seen").status_code == 200
    finally:
        proxy.stop()
    print(
        f"scenario 13: {outage.count(200)}/{len(outage)} cached-key requests served during the outage; "
        f"{len(after)} tries until an unseen valid key worked after it"
    )
    assert outage == [200] * 20
    for name, response in refused.items():
        assert response.status_code == 401, name
        assert response.json()["error"]["type"] == "authentication_error"
    assert refused["revoked"].json()["error"]["code"] == "key_revoked"
    assert refused["unseen"].json()["error"]["code"] == "key_store_unavailable"
    assert ready["checks"]["keys"]["key_store"].startswith("unavailable")
    assert after[-1] == 200
