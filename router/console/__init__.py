"""The web console at /ui: playground, savings dashboard, pricing and keys, behind the master key.

A feature module (see router/app.py FEATURE_MODULES). `install` keeps the login
state on the app and adds one on_request hook: a request to the API that
carries a console session cookie and the console's own header (and no key of
its own) is treated as the master key holder's, so the playground can call the
real /v1/chat/completions without the page ever holding a key.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from litestar import Litestar

from router.console import auth, dashboard, keys_page, playground, pricing_page
from router.console.session import CONSOLE_HEADER, ConsoleAuth
from router.gateway import Gateway
from router.pipeline import Pipeline, RequestContext

route_handlers: list[Any] = [
    *auth.route_handlers,
    *playground.route_handlers,
    *dashboard.route_handlers,
    *pricing_page.route_handlers,
    *keys_page.route_handlers,
]


def session_as_master_key(console: ConsoleAuth) -> Any:
    async def hook(ctx: RequestContext) -> None:
        headers = ctx.headers
        if CONSOLE_HEADER not in headers or "authorization" in headers or "x-api-key" in headers:
            return
        cookie = console.cookie_from_header(headers.get("cookie", ""))
        if console.verify(cookie) is not None and console.master_key:
            headers["authorization"] = f"Bearer {console.master_key}"

    return hook


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    console = ConsoleAuth.from_environment()
    app.state.console_auth = console
    dashboard.install_state(app)
    app.state.console_forms_used = OrderedDict()  # create-key forms already submitted (no double create)
    if console.enabled:
        # Before any auth hook, so the key check sees the substituted credential.
        pipeline.hooks.on_request.insert(0, session_as_master_key(console))
