"""Login, logout, and the check every console page makes first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect

from router.console.layout import e, page, to_login
from router.console.session import COOKIE, LIFETIME_S, ConsoleAuth


@dataclass(frozen=True)
class Session:
    auth: ConsoleAuth
    nonce: str

    @property
    def csrf(self) -> str:
        return self.auth.csrf_token(self.nonce)


def console_auth(request: Request[Any, Any, Any]) -> ConsoleAuth:
    auth: ConsoleAuth = request.app.state.console_auth
    return auth


def current(request: Request[Any, Any, Any]) -> Session | None:
    auth = console_auth(request)
    nonce = auth.session_of(request)
    return Session(auth, nonce) if nonce else None


def api_session(request: Request[Any, Any, Any]) -> Session:
    """For the console's JSON endpoints: a session or 401 (no redirect)."""
    session = current(request)
    if session is None:
        raise NotAuthorizedException("log in to the console first")
    return session


async def form_session(request: Request[Any, Any, Any]) -> tuple[Session | None, dict[str, str]]:
    """For form posts: the session, checked against the form's CSRF token, and the form fields."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    session = current(request)
    if session is not None and not session.auth.check_csrf(session.nonce, form.get("csrf", "")):
        raise PermissionDeniedException("the form's CSRF token does not match this session; reload the page")
    return session, form


def _login_form(error: str = "", next_path: str = "/ui/playground", enabled: bool = True) -> Response[str]:
    if not enabled:
        body = (
            '<p class="unavailable">The console is behind the master key, and none is set. Start the gateway '
            "with <code>TIERGATE_MASTER_KEY</code> in its environment to use it.</p>"
        )
        response = page("Log in", body, logged_in=False)
        response.status_code = 503
        return response
    message = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'{message}<form method="post" action="/ui/login" class="login">'
        '<label>Master key <input type="password" name="key" autocomplete="current-password" required '
        "autofocus></label>"
        f'<input type="hidden" name="next" value="{e(next_path)}"><button type="submit">Log in</button></form>'
    )
    response = page("Log in", body, logged_in=False)
    if error:
        response.status_code = 401
    return response


def _safe_next(value: str | None) -> str:
    # Only our own pages: never an open redirect to another site.
    if value and value.startswith("/ui/") and not value.startswith("//"):
        return value
    return "/ui/playground"


@get("/ui/login", include_in_schema=False, sync_to_thread=False)
def login_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    if current(request) is not None:
        return Redirect(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_form(
        next_path=_safe_next(request.query_params.get("next")), enabled=console_auth(request).enabled
    )


@post("/ui/login", include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    auth = console_auth(request)
    form = await request.form()
    next_path = _safe_next(str(form.get("next") or ""))
    if not auth.enabled:
        return _login_form(enabled=False)
    if not auth.check_key(str(form.get("key") or "")):
        await asyncio.sleep(0.3)  # a guess costs time; the key itself should be long
        return _login_form("That is not the master key.", next_path)
    redirect = Redirect(next_path, status_code=303)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    redirect.set_cookie(
        COOKIE, auth.issue(), max_age=LIFETIME_S, path="/", httponly=True, samesite="strict", secure=secure
    )
    return redirect


@post("/ui/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    session, _ = await form_session(request)
    if session is not None:
        session.auth.log_out(session.nonce)
    redirect = Redirect("/ui/login", status_code=303)
    redirect.delete_cookie(COOKIE, path="/")
    return redirect


@get("/ui", include_in_schema=False, sync_to_thread=False)
def console_root(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect("/ui/playground", status_code=303) if current(request) else to_login("/ui/playground")


route_handlers = [login_page, login, logout, console_root]
