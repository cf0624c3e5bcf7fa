"""The shared upstream client: one session for every client's requests."""

from __future__ import annotations

import asyncio

from aiohttp import web

from router.settings import Timeouts
from router.upstream import UpstreamClient, UpstreamRequest


def test_a_cookie_one_upstream_response_sets_is_never_sent_on_later_requests() -> None:
    """One session carries every client's requests: a provider's Set-Cookie (a load balancer's affinity cookie,
    say) must not ride along on the next client's request. By host name: aiohttp's default jar never keeps
    cookies of a bare IP address, so 127.0.0.1 could not show the difference."""
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"ok": True})
        response.set_cookie("affinity", "client-a")
        return response

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "localhost", 0)
        await site.start()
        port = runner.addresses[0][1]
        client = UpstreamClient()
        try:
            for _ in range(2):
                request = UpstreamRequest(f"http://localhost:{port}/v1/chat/completions", {}, b"{}")
                response = await client.send(request, Timeouts())
                assert response.status == 200
                await response.read()
        finally:
            await client.aclose()
            await runner.cleanup()

    asyncio.run(scenario())
    assert seen == [None, None]
