"""Playground: one prompt to `auto` or to chosen models side by side, streamed from /v1/chat/completions.

The page's script calls the real endpoint (the session cookie stands in for an
API key there, see `router.console.install`), shows the routing headers as they
arrive, then fetches the request's log row for attempts, tokens and exact cost.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect
from sqlalchemy import select

from router.console.auth import api_session, current
from router.console.layout import e, page, to_login
from router.errors import NotFound
from router.gateway import Gateway
from router.log.schema import requests as requests_table

STATIC = Path(__file__).with_name("static")
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@get("/ui/playground", include_in_schema=False, sync_to_thread=False)
def playground(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/playground")
    gateway: Gateway = request.app.state.gateway
    names = ["auto", *gateway.index.models]
    choices = "".join(
        f'<label class="choice"><input type="checkbox" name="model" value="{e(name)}"'
        f"{' checked' if name == 'auto' else ''}> {e(name)}</label>"
        for name in names
    )
    body = (
        '<form id="playground" class="playground">'
        '<label for="prompt">Prompt</label>'
        '<textarea id="prompt" name="prompt" rows="4" required>Summarise in one sentence: the meeting moved to '
        "Thursday because the room was booked.</textarea>"
        f"<fieldset><legend>Models (several = side by side)</legend>{choices}</fieldset>"
        '<label class="choice"><input type="checkbox" id="stream" checked> stream</label>'
        '<button type="submit" id="send">Send</button></form>'
        '<div id="results" class="results"></div>'
        '<script src="/ui/static/playground.js" defer></script>'
    )
    return page("Playground", body, active="playground", csrf=session.csrf)


def _row(gateway: Gateway, request_id: str) -> dict[str, Any] | None:
    engine = gateway.writer.engine
    columns = [
        requests_table.c[name]
        for name in (
            "id",
            "model",
            "tier",
            "tier_source",
            "difficulty",
            "reasoning",
            "attempts",
            "status",
            "http_status",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "cost_estimated",
            "latency_ms",
            "ttft_ms",
            "cache_hit",
        )
    ]
    with engine.connect() as connection:
        found = (
            connection.execute(select(*columns).where(requests_table.c.id == request_id)).mappings().first()
        )
    return dict(found) if found is not None else None


@get("/ui/api/requests/{request_id:str}", include_in_schema=False)
async def request_detail(request: Request[Any, Any, Any], request_id: str) -> dict[str, Any]:
    """One request's log row (the playground shows its attempts, tokens and exact cost)."""
    api_session(request)
    gateway: Gateway = request.app.state.gateway
    row = await asyncio.to_thread(_row, gateway, request_id)
    if row is None:
        raise NotFound(f"no logged request {request_id!r} (yet: rows are written in batches)")
    for key in ("cost_usd",):
        value = row[key]
        row[key] = format(Decimal(value).normalize(), "f") if value is not None else None
    return row


@get("/ui/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def static_file(name: str) -> Response[bytes]:
    path = STATIC / name
    media = STATIC_TYPES.get(path.suffix)
    if media is None or "/" in name or not path.is_file():
        raise NotFound(f"no static file {name!r}")
    return Response(path.read_bytes(), media_type=media, headers={"cache-control": "max-age=300"})


route_handlers = [playground, request_detail, static_file]
