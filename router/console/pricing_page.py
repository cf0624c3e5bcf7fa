"""Pricing: the configured models and the catalog, searchable, with a monthly cost calculator.

The calculator is computed here with the same Decimal arithmetic the gateway
bills with (`pricing.cost.tokens_cost`): a token mix per day -> cost per model
per month, cheapest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from pricing.cost import Price, tokens_cost
from router.console.auth import current
from router.console.layout import e, page, table, to_login, unavailable, usd
from router.gateway import Gateway

MAX_ROWS = 300


@dataclass(frozen=True)
class PricedModel:
    name: str
    source: str  # "config" (what this gateway bills) or the catalog's provider
    price: Price
    context_window: int | None


def _catalog_models() -> list[PricedModel] | None:
    try:
        from pricing.catalog import load_catalog  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return [
        PricedModel(f"{m.provider}/{m.model}", "catalog", m.price, m.context_window) for m in load_catalog()
    ]


def _configured(gateway: Gateway) -> list[PricedModel]:
    return [
        PricedModel(name, "config", model.price, model.config.context_window)
        for name, model in gateway.index.models.items()
    ]


def _number(value: str | None, default: Decimal) -> Decimal:
    try:
        parsed = Decimal(value) if value not in (None, "") else default
    except InvalidOperation:
        return default
    return parsed if parsed.is_finite() and parsed >= 0 else default


def _price_cell(value: Decimal | None) -> str:
    return e(f"${value.normalize():f}") if value is not None else "—"


@get("/ui/pricing", include_in_schema=False, sync_to_thread=False)
def pricing_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/pricing")
    gateway: Gateway = request.app.state.gateway
    params = request.query_params
    query = (params.get("q") or "").strip().lower()
    input_tokens = _number(params.get("input_tokens"), Decimal(10_000_000))
    output_tokens = _number(params.get("output_tokens"), Decimal(5_000_000))
    days = _number(params.get("days"), Decimal(30))
    catalog = _catalog_models()
    models = _configured(gateway) + (catalog or [])
    if query:
        models = [m for m in models if query in m.name.lower()]
    priced = sorted(
        ((tokens_cost(m.price, int(input_tokens), int(output_tokens)) * days, m) for m in models),
        key=lambda pair: (pair[0], pair[1].name),
    )
    shown = priced[:MAX_ROWS]
    rows = [
        (
            f'<span class="model">{e(m.name)}</span>',
            e(m.source),
            _price_cell(m.price.input_per_mtok),
            _price_cell(m.price.output_per_mtok),
            _price_cell(m.price.cached_input_per_mtok),
            e(f"{m.context_window:,}") if m.context_window else "—",
            f'<span class="per-day">{e(usd(monthly / days if days else 0))}</span>',
            f'<span class="per-month">{e(usd(monthly))}</span>',
        )
        for monthly, m in shown
    ]
    form = (
        '<form class="calc" method="get" action="/ui/pricing">'
        f'<label>Search <input name="q" value="{e(params.get("q") or "")}" placeholder="gpt, deepseek, claude…"></label>'
        f'<label>Input tokens / day <input name="input_tokens" id="input_tokens" value="{e(input_tokens)}" '
        'inputmode="numeric"></label>'
        f'<label>Output tokens / day <input name="output_tokens" id="output_tokens" value="{e(output_tokens)}" '
        'inputmode="numeric"></label>'
        f'<label>Days / month <input name="days" value="{e(days)}" inputmode="numeric"></label>'
        '<button type="submit" id="calculate">Calculate</button></form>'
    )
    note = (
        f'<p class="note">{len(priced)} models{" match" if query else ""}; '
        f"showing the cheapest {len(shown)}. Prices are USD per 1M tokens; "
        '"config" rows are what this gateway bills.</p>'
    )
    missing = (
        unavailable("The full model catalog", "Only the models in this gateway's config are listed.")
        if catalog is None
        else ""
    )
    body = (
        form
        + missing
        + note
        + table(
            ["Model", "Source", "Input", "Output", "Cached input", "Context", "Per day", "Per month"],
            rows,
            css="pricing",
            numeric=2,
        )
    )
    return page("Pricing", body, active="pricing", csrf=session.csrf)


route_handlers = [pricing_page]
