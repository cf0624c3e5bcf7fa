"""The savings report as one self-contained HTML page: inline CSS and SVG, nothing fetched."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from pricing.render import money, money_places, pct, period_text, price_text, whatif_lines
from pricing.report import Group, Report
from pricing.svg import PALETTE, Series, bar_chart, donut, line_chart
from pricing.whatif import WhatIf

MAX_POINTS = 400

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:1340px;margin:0 auto;padding:24px 32px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:16px;margin:0 0 10px;color:#334155}
.sub{color:#64748b;font-size:13px;margin-bottom:18px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:14px;margin-bottom:18px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:14px 16px}
.card .k{font-size:12px;color:#64748b;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:24px;font-weight:650;margin-top:4px} .good{color:#16a34a}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px;margin-bottom:14px}
.panel{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:14px 16px;overflow:hidden}
.method{background:#eff6ff;border:1px solid #bfdbfe;border-radius:10px;padding:10px 14px;font-size:13px;
margin-bottom:18px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:6px 8px;border-bottom:1px solid #e2e8f0;text-align:right}
th:first-child,td:first-child{text-align:left} tr.total td{font-weight:650}
pre{font-size:12px;white-space:pre-wrap}
"""


def _card(title: str, value: str, good: bool = False) -> str:
    klass = "v good" if good else "v"
    return f'<div class="card"><div class="k">{escape(title)}</div><div class="{klass}">{escape(value)}</div></div>'


def _row(group: Group, places: int, quality: bool, css: str = "") -> str:
    cells = [
        escape(group.name),
        str(group.requests),
        str(group.errors),
        str(group.cache_hits),
        money(group.actual, places),
        money(group.baseline, places),
        money(group.saved, places),
        pct(group.saved_pct),
        "-" if group.p50_ms is None else f"{group.p50_ms:.0f}",
    ]
    if quality:
        cells.append("-" if group.quality is None else f"{group.quality:.2f}")
    return f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _timeline(report: Report, places: int) -> str:
    if not report.timeline:
        return line_chart([], str, str)
    # Cumulative curves keep their shape at a few hundred points; a million would bloat the page.
    step = max(1, math.ceil(len(report.timeline) / MAX_POINTS))
    points = [*report.timeline[:-1:step], report.timeline[-1]]
    start = points[0].at.timestamp()
    actual = [(p.at.timestamp() - start, float(p.actual)) for p in points]
    baseline = [(p.at.timestamp() - start, float(p.baseline)) for p in points]

    span = actual[-1][0]
    shape = "%m-%d %H:%M:%S" if span < 3600 else "%m-%d %H:%M"

    def when(seconds: float) -> str:
        return datetime.fromtimestamp(start + seconds, UTC).strftime(shape)

    return line_chart(
        [
            Series(f"all-{report.baseline_model} baseline", PALETTE[1], baseline, dashed=True),
            Series("routed spend", PALETTE[0], actual),
        ],
        y_format=lambda v: money(Decimal(str(v)), places if v else 0),
        x_format=when,
    )


def _latency(report: Report) -> str:
    items = [
        (g.name, g.p50_ms or 0.0, f"p50 {g.p50_ms:.0f} ms, p95 {g.p95_ms or 0:.0f} ms")
        for g in report.by_model[:8]
        if g.p50_ms is not None
    ]
    return bar_chart(items, PALETTE[3])


def render_html(report: Report) -> str:
    places = money_places(report)
    total = report.total
    quality = report.quality_source is not None
    head = ["group", "requests", "errors", "cache", "spend", "baseline", "saved", "saved %", "p50 ms"]
    if quality:
        head.append("quality")
    table = (
        "<table><tr>"
        + "".join(f"<th>{h}</th>" for h in [report.group_by, *head[1:]])
        + "</tr>"
        + "".join(_row(g, places, quality) for g in report.groups)
        + _row(total, places, quality, "total")
        + "</table>"
    )
    top_models = bar_chart(
        [
            (g.name, float(g.actual), f"{money(g.actual, places)} · {g.requests} req")
            for g in report.by_model[:8]
        ]
    )
    tier_mix = donut([(g.name, float(g.requests)) for g in report.by_tier])
    whatif = ""
    if isinstance(report.whatif, WhatIf):
        body = escape("\n".join(whatif_lines(report.whatif, places)))
        whatif = f'<div class="panel"><h2>What-if</h2><pre>{body}</pre></div>'
    cache = f"{total.cache_hits} ({money(total.cache_saved, places)} saved)" if total.cache_hits else "0"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tiergate savings report</title>
<style>{_CSS}</style></head><body><main>
<h1>tiergate savings report</h1>
<div class="sub">{escape(period_text(report))} · {total.requests} requests · baseline {escape(report.baseline_model)}
({escape(price_text(report.baseline_price))})</div>
<div class="cards">
{_card("routed spend", money(total.actual, places))}
{_card(f"all-{report.baseline_model}", money(total.baseline, places))}
{_card("saved", money(total.saved, places), good=total.saved > 0)}
{_card("saved %", pct(total.saved_pct), good=total.saved > 0)}
{_card("cache hits", cache)}
</div>
<div class="method"><b>Baseline output length ({escape(report.method)}):</b> {escape(report.method_text)}.
{escape(report.quality_note)}.{f" {total.estimated} request(s) had no provider usage; their cost was counted locally." if total.estimated else ""}</div>
<div class="grid">
<div class="panel"><h2>Spend vs baseline over time (cumulative)</h2>{_timeline(report, places)}</div>
<div class="panel"><h2>Tier mix (requests)</h2>{tier_mix}</div>
<div class="panel"><h2>Top models by spend</h2>{top_models}</div>
<div class="panel"><h2>Latency by model</h2>{_latency(report)}</div>
</div>
<div class="panel"><h2>By {escape(report.group_by)}</h2>{table}</div>
{whatif}
</main></body></html>
"""
