"""The floor: the least any Python gateway on this stack can cost.

Same ASGI server as tiergate (uvicorn, uvloop, httptools with router.server_protocol's
head-holding transport, one worker), one raw ASGI handler, one shared aiohttp
session, and no logic: the client's body goes to one fixed upstream URL
($FLOOR_UPSTREAM) byte for byte, and the response comes back as it arrives
(streams chunk by chunk). Whatever tiergate costs above this is the price of what
it does (parsing, routing, accounting, logging).

    FLOOR_UPSTREAM=http://127.0.0.1:9090/openai/v1/chat/completions \\
        uvicorn benchmarks.floor:app --loop uvloop \\
        --http router.server_protocol:HeadHoldingProtocol --no-access-log --no-proxy-headers
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PASSED_HEADERS = frozenset({"content-type"})


class Floor:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.session: aiohttp.ClientSession | None = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=512, limit_per_host=512, keepalive_timeout=30)
                self.session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        assert self.session is not None
        async with self.session.post(
            self.upstream, data=b"".join(chunks), headers={"content-type": "application/json"}
        ) as response:
            headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.items()
                if k.lower() in _PASSED_HEADERS
            ]
            length = response.headers.get("content-length")
            if length is not None:
                body = await response.read()
                headers.append((b"content-length", str(len(body)).encode()))
                await send({"type": "http.response.start", "status": response.status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


app = Floor(os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:9090/openai/v1/chat/completions"))
