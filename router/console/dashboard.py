"""Savings dashboard: spend against the baseline from the request log, the same figures as `tiergate report`."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from router.console.auth import current
from router.console.layout import page, to_login, unavailable


@get("/ui/dashboard", include_in_schema=False, sync_to_thread=False)
def dashboard(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/dashboard")
    body = unavailable("The savings report", "This build has no pricing.report yet.")
    return page("Savings", body, active="dashboard", csrf=session.csrf)


route_handlers = [dashboard]
