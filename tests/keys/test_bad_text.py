"""Text a database would refuse (NUL) or a column cannot hold is the client's 400, in the API's error format, on
SQLite and PostgreSQL alike: before, PostgreSQL turned it into a 500 (keys) or a 503 (feedback)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from router.keys.schema import api_keys
from tests.conftest import Gateway, GatewayFactory
from tests.keys.conftest import MASTER
from tests.openapi_schema import validate

ADMIN = {"Authorization": f"Bearer {MASTER}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def keyed(master: str, make_gateway: GatewayFactory, request: pytest.FixtureRequest) -> Gateway:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return make_gateway(database_url=url)


def _refused(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    validate(body, "ErrorResponse")
    error: dict[str, Any] = body["error"]
    assert error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"name": "a\u0000b"}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": "trailing line feed\n"}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"name": "ok", "models": ["gpt-4o", "m\u0000"]}, "models[1]"),
        ({"name": "ok", "scope": "s\u0000"}, "scope"),
    ],
)
def test_admin_key_with_unstorable_text_is_a_400_naming_the_field(
    keyed: Gateway, fields: dict[str, Any], param: str
) -> None:
    error = _refused(httpx.post(f"{keyed.url}/admin/keys", json=fields, headers=ADMIN, timeout=10))
    assert error["param"] == param and param in error["message"]
    with keyed.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(api_keys)).scalar_one() == 0
    assert httpx.post(f"{keyed.url}/admin/keys", json={"name": "n" * 200}, headers=ADMIN).status_code == 201


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"request_id": "r\u00001", "score": 1}, "request_id"),
        ({"request_id": "r1", "score": 1, "source": "s\u0000"}, "source"),
        ({"request_id": "r1\n", "score": 1}, "request_id"),
        ({"request_id": "r1", "score": 1, "label": "l\u0000"}, "label"),
        ({"request_id": "r1", "score": 1, "comment": "a\u0000b"}, "comment"),
    ],
)
def test_feedback_with_nul_or_a_line_feed_in_a_one_line_field_is_a_400(
    keyed: Gateway, fields: dict[str, Any], field: str
) -> None:
    error = _refused(httpx.post(f"{keyed.url}/v1/feedback", json=fields, headers=ADMIN, timeout=10))
    assert field in error["message"]


@pytest.mark.parametrize("key_id", ["%00", "key_%00", "k" * 65])
def test_a_key_id_no_key_can_have_is_a_404(keyed: Gateway, key_id: str) -> None:
    for method, path in (("GET", ""), ("POST", "/revoke"), ("GET", "/spend")):
        response = httpx.request(method, f"{keyed.url}/admin/keys/{key_id}{path}", headers=ADMIN, timeout=10)
        assert response.status_code == 404, (method, path, response.text)
        validate(response.json(), "ErrorResponse")
