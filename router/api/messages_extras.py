"""What Anthropic clients (Claude Code) call besides the Messages routes of router/api/messages.py
(`POST /v1/messages`, `POST /v1/messages/count_tokens`, both owned there).

- `HEAD /`: Claude Code probes the base URL before its first request.

Query strings (Claude Code sends `/v1/messages?beta=true`) never change routing: routes match on the path.
"""

from __future__ import annotations

from litestar import Response, head


@head("/", include_in_schema=False)
async def root_probe() -> Response[None]:
    return Response(None, status_code=200)


route_handlers = [root_probe]
