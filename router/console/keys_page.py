"""Keys: list, create and revoke virtual keys, for the master key holder (who is the only one logged in).

It drives the same `KeyService` the admin API (`/admin/keys`) and `tiergate keys`
use. A new key's secret is shown once, on the page the create form lands on,
and never again (only its hash is stored).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from pricing.render import money
from router.console.auth import Session, current, form_session
from router.console.layout import e, page, table, to_login, unavailable
from router.wire.text import name_problem


def _service(request: Request[Any, Any, Any]) -> Any:
    return getattr(request.app.state, "key_service", None)


def _keys_and_spend(store: Any) -> tuple[list[Any], dict[str, Decimal]]:
    """Every key and what the request log says it spent in its budget period (one small query per key)."""
    keys = store.list()
    return keys, {key.id: store.spent(key.id, key.budget_period) for key in keys}


async def _render(
    request: Request[Any, Any, Any], session: Session, *, created: str = "", error: str = ""
) -> Response[str]:
    service = _service(request)
    if service is None:
        body = unavailable("Key management", "This gateway runs without the keys feature (router.keys).")
        return page("Keys", body, active="keys", csrf=session.csrf)
    keys, spent = await asyncio.to_thread(_keys_and_spend, service.store)
    csrf = f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
    rows = []
    for key in reversed(keys):
        state = "revoked" if key.revoked_at else ("expired" if key.expired() else "active")
        action = (
            f'<form method="post" action="/ui/keys/{e(key.id)}/revoke">{csrf}'
            f'<button class="revoke" data-key="{e(key.name)}">Revoke</button></form>'
            if state == "active"
            else ""
        )
        budget = f"${key.budget_usd:f}/{key.budget_period}" if key.budget_usd is not None else "—"
        rows.append(
            (
                f'<span class="key-name">{e(key.name)}</span>',
                f"<code>{e(key.prefix)}</code>",
                f'<span class="state">{e(state)}</span>',
                e(budget),
                f'<span class="spent">{e(money(spent[key.id], 6 if spent[key.id] < 10 else 2))}</span>',
                e(key.rpm or "—"),
                e(key.tpm or "—"),
                e(", ".join(key.models) or "all"),
                e(key.created_at.strftime("%Y-%m-%d %H:%M")),
                action,
            )
        )
    shown = (
        f'<div class="secret" role="status">New key (shown once; copy it now): <code id="new-key">{e(created)}</code>'
        "</div>"
        if created
        else ""
    )
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    form = (
        f'<form class="filters" method="post" action="/ui/keys">{csrf}'
        '<label>Name <input name="name" id="key-name" required maxlength="100"></label>'
        '<label>Budget USD <input name="budget_usd" inputmode="decimal"></label>'
        '<label>Period <select name="budget_period"><option>month</option><option>day</option>'
        "<option>total</option></select></label>"
        '<label>RPM <input name="rpm" inputmode="numeric"></label>'
        '<label>TPM <input name="tpm" inputmode="numeric"></label>'
        '<label>Models (comma-separated) <input name="models"></label>'
        f'<input type="hidden" name="once" value="{secrets.token_hex(8)}">'
        '<button type="submit" id="create-key">Create key</button></form>'
    )
    headers = ["Name", "Prefix", "State", "Budget", "Spent (period)", "RPM", "TPM", "Models", "Created", ""]
    body = shown + problem + form + table(headers, rows, css="keys", numeric=99)
    response = page("Keys", body, active="keys", csrf=session.csrf)
    if error:
        response.status_code = 400
    return response


@get("/ui/keys", include_in_schema=False)
async def keys_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/keys")
    return await _render(request, session)


def _positive(form: dict[str, str], name: str, kind: type[int] | type[Decimal]) -> Any:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except (ValueError, InvalidOperation):
        raise ValueError(f"{name} must be a number") from None
    if not value > 0:
        raise ValueError(f"{name} must be positive")
    return value


@post("/ui/keys", include_in_schema=False, status_code=200)
async def create_key(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session, form = await form_session(request)
    if session is None:
        return to_login("/ui/keys")
    service = _service(request)
    if service is None:
        return await _render(request, session)
    used: OrderedDict[str, None] = request.app.state.console_forms_used
    once = form.get("once", "")
    if once in used:
        # A resubmitted form (reload, double click): one key per form, and its secret was shown once.
        return await _render(request, session, error="this form was already used; the key exists (see below)")
    used[once] = None
    while len(used) > 1000:
        used.popitem(last=False)
    name = form.get("name", "").strip()
    period = form.get("budget_period", "month")
    models = [m.strip() for m in form.get("models", "").split(",") if m.strip()]
    try:
        if (problem := name_problem(name)) is not None:
            raise ValueError(f"the key name {problem}")
        for model in models:
            if (problem := name_problem(model)) is not None:
                raise ValueError(f"a model name {problem}")
        if period not in ("day", "month", "total"):
            raise ValueError("budget period must be day, month or total")
        budget = _positive(form, "budget_usd", Decimal)
        rpm, tpm = _positive(form, "rpm", int), _positive(form, "tpm", int)
    except ValueError as exc:
        return await _render(request, session, error=str(exc))
    _, secret = await asyncio.to_thread(
        service.store.create, name, budget_usd=budget, budget_period=period, rpm=rpm, tpm=tpm, models=models
    )
    return await _render(request, session, created=secret)


@post("/ui/keys/{key_id:str}/revoke", include_in_schema=False, status_code=303)
async def revoke_key(request: Request[Any, Any, Any], key_id: str) -> Redirect:
    session, _ = await form_session(request)
    if session is None:
        return to_login("/ui/keys")
    service = _service(request)
    if service is not None:
        await asyncio.to_thread(service.store.revoke, key_id)
        await service.revoke_everywhere(key_id)
    return Redirect("/ui/keys", status_code=303)


route_handlers = [keys_page, create_key, revoke_key]
