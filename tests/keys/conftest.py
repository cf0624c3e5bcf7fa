"""Helpers for the keys tests: a gateway with a master key, and keys made through the admin API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

MASTER = "tg-master-test-secret-0123456789"


@pytest.fixture
def master(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    return MASTER


def create_key(url: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "team")
    response = httpx.post(
        f"{url}/admin/keys", json=fields, headers={"Authorization": f"Bearer {MASTER}"}, timeout=10
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def revoke_key(url: str, key_id: str) -> None:
    response = httpx.post(
        f"{url}/admin/keys/{key_id}/revoke", headers={"Authorization": f"Bearer {MASTER}"}, timeout=10
    )
    assert response.status_code == 200, response.text


def spend(url: str, key_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{url}/admin/keys/{key_id}/spend", headers={"Authorization": f"Bearer {MASTER}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def chat(url: str, secret: str | None, content: str = "hello there", **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    headers.update(extra.pop("headers", {}))
    body = {"model": "deepseek-v3", "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=20)
