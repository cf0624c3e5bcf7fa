"""Savings dashboard: spend against the baseline from the request log.

The figures come from the very functions `tiergate report` uses (`fetch_rows`,
`baseline_price`, `build_report`, and its money formatting), so a number on this
page is the number the CLI prints. Filtering by key keeps the rows of that key,
which is what the CLI's `--group-by key` row for it adds up.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from pricing.cli import baseline_price
from pricing.logrows import SinceError, fetch_rows, parse_since
from pricing.quality import load_quality
from pricing.render import exact, money, money_places, pct
from pricing.report import OUTPUT_METHODS, Group, OutputMethod, Report, build_report
from router.console.auth import current
from router.console.charts import bars, line_chart
from router.console.layout import e, page, table, to_login
from router.gateway import Gateway

PERIODS = (
    ("1h", "last hour"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
    ("30d", "last 30 days"),
    ("", "all"),
)
MAX_POINTS = 60


def load_report(
    gateway: Gateway, since: datetime | None, key: str | None, baseline: str, method: OutputMethod
) -> tuple[Report | None, list[str], str]:
    """(report or None, the keys seen in the period, a problem to show)."""
    price = baseline_price(baseline, gateway.settings)
    if price is None:
        return None, [], f"baseline {baseline!r} is neither a configured model nor in the pricing catalog"
    engine = gateway.writer.engine
    rows = fetch_rows(engine, since)
    keys = sorted({row.key_id for row in rows if row.key_id})
    if key:
        rows = [row for row in rows if row.key_id == key]
    quality = load_quality(engine, (row.id for row in rows))
    return build_report(rows, baseline, price, "model", method, since, quality), keys, ""


Loaded = tuple[Report | None, list[str], str]


class ReportCache:
    """Keeps a report for a while only when it was slow to build (a big log): small logs are always live.

    `tiergate report` reads every row in the period (about 9 s for 100k rows here); a dashboard someone
    reloads should not pay that each time. The page says how old the figures are.
    """

    def __init__(self, slow_s: float = 1.0, ttl_s: float = 60.0, size: int = 32) -> None:
        self.slow_s, self.ttl_s, self.size = slow_s, ttl_s, size
        self._items: dict[tuple[str, ...], tuple[float, Loaded]] = {}

    def get(self, key: tuple[str, ...]) -> Loaded | None:
        found = self._items.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl_s:
            return None
        return found[1]

    def put(self, key: tuple[str, ...], loaded: Loaded, took_s: float) -> None:
        if took_s < self.slow_s:
            return
        if len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (time.monotonic(), loaded)

    def age(self, key: tuple[str, ...]) -> float | None:
        found = self._items.get(key)
        return time.monotonic() - found[0] if found is not None else None


def _timeline(report: Report) -> tuple[list[str], list[float], list[float]]:
    """Cumulative spend and baseline, last value per minute, hour or day (whichever gives a readable chart)."""
    points = report.timeline
    if not points:
        return [], [], []
    span = (points[-1].at - points[0].at).total_seconds()
    if span <= 600:
        fmt = "%H:%M:%S"
    elif span <= 3 * 3600:
        fmt = "%H:%M"
    else:
        fmt = "%d %H:00" if span <= 3 * 86400 else "%m-%d"
    buckets: dict[str, tuple[float, float]] = {}
    for point in points:
        buckets[point.at.strftime(fmt)] = (float(point.actual), float(point.baseline))
    labels = list(buckets)[-MAX_POINTS:]
    return labels, [buckets[label][0] for label in labels], [buckets[label][1] for label in labels]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _rate(group: Group) -> str:
    return f"{group.errors / group.requests * 100:.1f}%" if group.requests else "—"


def _group_rows(groups: list[Group], places: int) -> list[tuple[str, ...]]:
    return [
        (
            e(g.name),
            str(g.requests),
            e(_rate(g)),
            str(g.cache_hits),
            e(money(g.actual, places)),
            e(money(g.baseline, places)),
            e(money(g.saved, places)),
            e(pct(g.saved_pct)),
            e(_ms(g.p50_ms)),
            e(_ms(g.p95_ms)),
        )
        for g in groups
    ]


def _card(name: str, label: str, value: str, exact_value: str = "", note: str = "") -> str:
    data = f' data-exact="{e(exact_value)}"' if exact_value else ""
    small = f'<div class="small">{e(note)}</div>' if note else ""
    return f'<div class="card {e(name)}"><div class="small">{e(label)}</div><div class="big"{data}>{e(value)}</div>{small}</div>'


def _filters(params: dict[str, str], keys: list[str], models: list[str]) -> str:
    period = params.get("since", "7d")
    options = "".join(
        f'<option value="{e(v)}"{" selected" if v == period else ""}>{e(label)}</option>'
        for v, label in PERIODS
    )
    key = params.get("key", "")
    key_options = '<option value="">all keys</option>' + "".join(
        f'<option value="{e(k)}"{" selected" if k == key else ""}>{e(k)}</option>' for k in keys
    )
    baseline = params.get("baseline", "")
    baseline_options = "".join(
        f'<option value="{e(m)}"{" selected" if m == baseline else ""}>{e(m)}</option>' for m in models
    )
    method = params.get("method", "same")
    method_options = "".join(
        f'<option value="{e(m)}"{" selected" if m == method else ""}>{e(m)}</option>' for m in OUTPUT_METHODS
    )
    return (
        '<form class="filters" method="get" action="/ui/dashboard">'
        f'<label>Period <select name="since" id="since">{options}</select></label>'
        f'<label>Key <select name="key" id="key">{key_options}</select></label>'
        f'<label>Baseline <select name="baseline" id="baseline">{baseline_options}</select></label>'
        f'<label>Baseline output <select name="method">{method_options}</select></label>'
        '<button type="submit">Apply</button></form>'
    )


def render_dashboard(report: Report, filters: str) -> str:
    total = report.total
    places = money_places(report)
    cards = (
        _card("spend", "Spend", money(total.actual, places), exact(total.actual))
        + _card(
            "baseline",
            f"All on {report.baseline_model}",
            money(total.baseline, places),
            exact(total.baseline),
        )
        + _card("saved", "Saved", money(total.saved, places), exact(total.saved), pct(total.saved_pct))
        + _card("requests", "Requests", str(total.requests), note=f"{total.cache_hits} cache hits")
        + _card("errors", "Error rate", _rate(total), note=f"{total.errors} errors")
        + _card("latency", "Latency p50 / p95", f"{_ms(total.p50_ms)} / {_ms(total.p95_ms)} ms")
    )
    labels, actual, baseline = _timeline(report)
    timeline = line_chart(labels, [("spend", actual), (f"all on {report.baseline_model}", baseline)])
    tier_mix = bars(
        [
            (g.name, float(g.requests), f"{g.requests} ({g.requests / total.requests * 100:.0f}%)")
            for g in report.by_tier
        ]
        if total.requests
        else []
    )
    top = bars([(g.name, float(g.actual), money(g.actual, places)) for g in report.by_model[:8]])
    headers = ["", "Requests", "Errors", "Cache", "Spend", "Baseline", "Saved", "Saved %", "p50 ms", "p95 ms"]
    return (
        filters
        + f'<div class="cards">{cards}</div>'
        + f'<p class="note">Baseline output length: {e(report.method)}: {e(report.method_text)}. '
        f"{e(report.quality_note)}.</p>"
        + '<div class="grid">'
        + f'<div class="panel"><h2>Cumulative spend vs baseline</h2>{timeline}</div>'
        + f'<div class="panel"><h2>Tier mix</h2>{tier_mix}<h2>Top models by spend</h2>{top}</div>'
        + "</div>"
        + "<h2>By model</h2>"
        + table(headers, _group_rows(report.by_model, places), css="by-model")
        + "<h2>By tier</h2>"
        + table(headers, _group_rows(report.by_tier, places), css="by-tier")
    )


@get("/ui/dashboard", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    session = current(request)
    if session is None:
        return to_login("/ui/dashboard")
    gateway: Gateway = request.app.state.gateway
    params = {k: str(v) for k, v in request.query_params.items()}
    params.setdefault("since", "7d")
    params.setdefault("baseline", gateway.settings.routing.baseline or "gpt-4o")
    method: OutputMethod = "visible" if params.get("method") == "visible" else "same"
    models = sorted({*gateway.index.models, params["baseline"]})
    try:
        since = parse_since(params["since"]) if params["since"] else None
    except SinceError as exc:
        body = f'<p class="error">{e(exc)}</p>' + _filters(params, [], models)
        return page("Savings", body, active="dashboard", csrf=session.csrf)
    cache: ReportCache = request.app.state.console_reports
    cache_key = (params["since"], params.get("key") or "", params["baseline"], method)
    loaded = cache.get(cache_key)
    if loaded is None:
        started = time.monotonic()
        loaded = await asyncio.to_thread(
            load_report, gateway, since, params.get("key") or None, params["baseline"], method
        )
        cache.put(cache_key, loaded, time.monotonic() - started)
    report, keys, problem = loaded
    filters = _filters(params, keys, models)
    if report is None:
        body = filters + f'<p class="error">{e(problem)}</p>'
    else:
        body = render_dashboard(report, filters)
        age = cache.age(cache_key)
        if age is not None:
            body += f'<p class="note">Figures from {age:.0f} s ago (a large log is re-read at most once a minute).</p>'
    return page("Savings", body, active="dashboard", csrf=session.csrf)


route_handlers = [dashboard]


def install_state(app: Any) -> None:
    app.state.console_reports = ReportCache()
