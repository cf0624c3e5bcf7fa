"""Pricing: the catalog (with this gateway's configured prices laid over it), searchable, and a cost calculator.

The calculator is `tiergate pricing compare`: the same catalog (`effective_catalog`),
the same ranking (`compare_rows`, exact Decimal per day), the same month (30 days)
and the same rounding to the cent, so the page and the CLI print the same figures.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from pricing.cli import DAYS_PER_MONTH, compare_rows, effective_catalog
from pricing.cost import cents
from router.console.auth import current
from router.console.layout import e, page, table, to_login
from router.gateway import Gateway

MAX_ROWS = 300
NEEDS = ("tools", "vision", "json_schema", "reasoning")


def _count(value: str | None, default: int) -> int:
    text = (value or "").replace(",", "").replace("_", "").strip()
    return int(text) if text.isdigit() else default


def _price(value: Decimal | None) -> str:
    return e(f"${value.normalize():f}") if value is not None else "—"


@get("/ui/pricing", include_in_schema=False, sync_to_thread=False)
def pricing_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/pricing")
    gateway: Gateway = request.app.state.gateway
    params = request.query_params
    query = (params.get("q") or "").strip().lower()
    input_tokens = _count(params.get("input_tokens"), 10_000_000)
    output_tokens = _count(params.get("output_tokens"), 5_000_000)
    cached_tokens = min(_count(params.get("cached_tokens"), 0), input_tokens)
    needs = {need for need in NEEDS if params.get(need)}
    catalog = effective_catalog(gateway.settings)
    ranked = [
        (key, cost)
        for key, cost in compare_rows(catalog, input_tokens, output_tokens, cached_tokens, set(), needs)
        if query in key.lower()
    ]
    rows = []
    for key, per_day in ranked[:MAX_ROWS]:
        model = catalog.get(key)
        assert model is not None
        rows.append(
            (
                f'<span class="model">{e(key)}</span>',
                "config" if model.source.startswith("config") else "catalog",
                _price(model.price.input_per_mtok),
                _price(model.price.output_per_mtok),
                _price(model.price.cached_input_per_mtok),
                e(f"{model.context_window:,}") if model.context_window else "—",
                f'<span class="per-day">{e(f"${cents(per_day):,}")}</span>',
                f'<span class="per-month">{e(f"${cents(per_day * DAYS_PER_MONTH):,}")}</span>',
            )
        )
    boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="{n}" value="1"{" checked" if n in needs else ""}> {n}'
        "</label>"
        for n in NEEDS
    )
    form = (
        '<form class="calc" method="get" action="/ui/pricing">'
        f'<label>Search <input name="q" value="{e(params.get("q") or "")}" placeholder="gpt, deepseek, claude…"></label>'
        f'<label>Input tokens / day <input name="input_tokens" id="input_tokens" value="{input_tokens}" '
        'inputmode="numeric"></label>'
        f'<label>of which cached <input name="cached_tokens" id="cached_tokens" value="{cached_tokens}" '
        'inputmode="numeric"></label>'
        f'<label>Output tokens / day <input name="output_tokens" id="output_tokens" value="{output_tokens}" '
        'inputmode="numeric"></label>'
        f"<span>Needs {boxes}</span>"
        '<button type="submit" id="calculate">Calculate</button></form>'
    )
    note = (
        f'<p class="note">{len(ranked)} of {len(catalog)} models; showing the cheapest {min(len(ranked), MAX_ROWS)}. '
        f"Prices are USD per 1M tokens; a month is {DAYS_PER_MONTH} days; "
        '"config" rows carry the prices this gateway bills. Same figures as '
        f"<code>tiergate pricing compare --input-tokens {input_tokens} --output-tokens {output_tokens} "
        f"--cached-tokens {cached_tokens}</code>.</p>"
    )
    headers = ["Model", "Source", "Input", "Output", "Cached input", "Context", "Per day", "Per month"]
    body = form + note + table(headers, rows, css="pricing", numeric=2)
    return page("Pricing", body, active="pricing", csrf=session.csrf)


route_handlers = [pricing_page]
