"""Server-rendered HTML: the page shell, escaping, and small table/form helpers.

Every value that reaches a page goes through `e()`; markup is only ever built
from our own strings. No template engine: the pages are small and this keeps
them greppable and typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from html import escape
from typing import Any

from litestar import Response
from litestar.response import Redirect

NAV = (
    ("playground", "Playground"),
    ("dashboard", "Savings"),
    ("pricing", "Pricing"),
    ("keys", "Keys"),
)


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def usd(value: Decimal | float | int, places: int = 2) -> str:
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    return f"${amount:,.{places}f}"


def page(title: str, body: str, *, active: str = "", csrf: str = "", logged_in: bool = True) -> Response[str]:
    nav = ""
    if logged_in:
        links = "".join(
            f'<a href="/ui/{slug}"{" class=active" if slug == active else ""}>{e(label)}</a>'
            for slug, label in NAV
        )
        nav = (
            f'<nav>{links}<form method="post" action="/ui/logout" class="logout">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}"><button>Log out</button></form></nav>'
        )
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · tiergate</title>"
        '<link rel="stylesheet" href="/ui/static/console.css"></head>'
        f'<body><header><span class="brand">tiergate</span>{nav}</header>'
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "cache-control": "no-store",
            "x-frame-options": "DENY",
            "content-security-policy": "default-src 'self'; style-src 'self'; img-src 'self' data:",
            "referrer-policy": "same-origin",
        },
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, css: str = "", numeric: int = 1) -> str:
    """Rows are already-escaped cells; columns from `numeric` on are right-aligned."""
    head = "".join(f"<th{' class=num' if i >= numeric else ''}>{e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i >= numeric else ''}>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f'<table class="{e(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def unavailable(what: str, why: str) -> str:
    return f'<p class="unavailable"><strong>{e(what)} is not available yet.</strong> {e(why)}</p>'


def to_login(path: str) -> Redirect:
    return Redirect("/ui/login", query_params={"next": path}, status_code=303)
