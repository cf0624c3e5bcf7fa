"""POST /v1/feedback: stored, idempotent, and every bad input refused in OpenAI's error format."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from router.feedback.schema import feedback
from tests.conftest import Gateway
from tests.openapi_schema import validate


def _request(gateway: Gateway, request_id: str) -> None:
    gateway.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": request_id}
    )


def rate(gateway: Gateway, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/feedback", json=body, headers=headers, timeout=10)


def test_feedback_stored_and_idempotent(gateway: Gateway) -> None:
    _request(gateway, "fb-1")
    first = rate(gateway, {"request_id": "fb-1", "score": 0.25, "label": "too vague"})
    assert first.status_code == 201 and first.json()["created"] is True
    again = rate(gateway, {"request_id": "fb-1", "score": 0.25, "label": "too vague"})
    assert again.status_code == 200 and again.json()["created"] is False
    thumbs = rate(gateway, {"request_id": "fb-1", "score": "up", "source": "ui"})
    assert thumbs.status_code == 201 and thumbs.json()["score"] == 1.0
    with gateway.engine.connect() as connection:
        rows = connection.execute(select(feedback).order_by(feedback.c.source)).all()
    assert [(r.source, r.score, r.label) for r in rows] == [("api", 0.25, "too vague"), ("ui", 1.0, None)]


def test_unknown_request_is_404(gateway: Gateway) -> None:
    response = rate(gateway, {"request_id": "nope", "score": 1})
    assert response.status_code == 404
    validate(response.json(), "ErrorResponse")
    assert response.json()["error"]["code"] == "request_not_found"


def test_bad_scores_and_bodies_are_400(gateway: Gateway) -> None:
    _request(gateway, "fb-2")
    for body, param in [
        ({"request_id": "fb-2", "score": 1.5}, "score"),
        ({"request_id": "fb-2", "score": -0.1}, "score"),
        ({"request_id": "fb-2", "score": "sideways"}, "score"),
        ({"request_id": "fb-2"}, None),
        ({"request_id": "fb-2", "score": 1, "colour": "red"}, None),
    ]:
        response = rate(gateway, body)
        assert response.status_code == 400, body
        validate(response.json(), "ErrorResponse")
        if param:
            assert response.json()["error"]["param"] == param
    broken = httpx.post(f"{gateway.url}/v1/feedback", content=b"{not json", timeout=10)
    assert broken.status_code == 400


def test_feedback_for_request_already_in_the_table(gateway: Gateway) -> None:
    """After a restart the in-memory recent ids are gone: the table answers."""
    import time

    from tests.router.test_request_log import wait_rows

    _request(gateway, "fb-3")
    wait_rows(gateway.engine, 1)
    gateway.server.app.state.recent_requests = type(gateway.server.app.state.recent_requests)()  # type: ignore[attr-defined]
    time.sleep(0.1)
    assert rate(gateway, {"request_id": "fb-3", "score": 0}).status_code == 201
