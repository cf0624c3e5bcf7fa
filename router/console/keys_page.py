"""Keys: list, create and revoke virtual keys (the master key holder's page)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from router.console.auth import current
from router.console.layout import page, to_login, unavailable


@get("/ui/keys", include_in_schema=False, sync_to_thread=False)
def keys_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/keys")
    body = unavailable("Key management", "This build has no virtual keys (router/keys) yet.")
    return page("Keys", body, active="keys", csrf=session.csrf)


route_handlers = [keys_page]
