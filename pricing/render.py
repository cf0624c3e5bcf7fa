"""The savings report as a terminal table, JSON or CSV. Every format states the baseline, its prices and how
the baseline's output length was estimated. Money in JSON and CSV is exact (decimal strings)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from pricing.cost import Price
from pricing.report import Group, Report
from pricing.whatif import WhatIf


def exact(value: Decimal) -> str:
    """Every digit the arithmetic produced, never scientific notation (`0E-10` reads as `0`)."""
    return format(value.normalize(), "f")


def money_places(report: Report) -> int:
    # Cents once the sums are large enough to read that way; micro-dollars for a small test log.
    return 2 if report.total.baseline >= 10 else 6


def money(value: Decimal, places: int) -> str:
    return f"${value:,.{places}f}"


def pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def price_text(price: Price) -> str:
    text = f"${exact(price.input_per_mtok)} in / ${exact(price.output_per_mtok)} out per 1M tokens"
    if price.cached_input_per_mtok is not None:
        text += f", cached in ${exact(price.cached_input_per_mtok)}"
    if price.reasoning_per_mtok is not None:
        text += f", reasoning ${exact(price.reasoning_per_mtok)}"
    return text


def period_text(report: Report) -> str:
    if report.first is None or report.last is None:
        return "no requests in the period"
    return f"{report.first:%Y-%m-%d %H:%M} .. {report.last:%Y-%m-%d %H:%M} UTC"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render_table(report: Report) -> str:
    places = money_places(report)
    quality = report.quality_source is not None
    head = f"{report.group_by:<16} {'requests':>8} {'errors':>6} {'cache':>5} {'spend':>14} {'baseline':>14}"
    head += f" {'saved':>14} {'saved%':>7} {'p50 ms':>7}" + (f" {'quality':>7}" if quality else "")
    lines = [
        f"tiergate savings report: {period_text(report)}",
        f"baseline: all requests on {report.baseline_model} ({price_text(report.baseline_price)})",
        f"baseline output length: {report.method} - {report.method_text}",
        "",
        head,
        "-" * len(head),
    ]

    def line(group: Group) -> str:
        text = (
            f"{group.name[:16]:<16} {group.requests:>8} {group.errors:>6} {group.cache_hits:>5} "
            f"{money(group.actual, places):>14} {money(group.baseline, places):>14} "
            f"{money(group.saved, places):>14} {pct(group.saved_pct):>7} {_ms(group.p50_ms):>7}"
        )
        if quality:
            text += f" {'-' if group.quality is None else f'{group.quality:.2f}':>7}"
        return text

    lines.extend(line(group) for group in report.groups)
    lines.append("-" * len(head))
    lines.append(line(report.total))
    total = report.total
    lines.append("")
    lines.append(
        f"saved {money(total.saved, places)} ({pct(total.saved_pct)}) against {report.baseline_model} alone"
        + (
            f"; {money(total.cache_saved, places)} of it from {total.cache_hits} cache hits"
            if total.cache_hits
            else ""
        )
    )
    if total.estimated:
        lines.append(
            f"{total.estimated} request(s) had no provider usage: their cost was counted locally (estimated)"
        )
    lines.append(report.quality_note)
    if isinstance(report.whatif, WhatIf):
        lines.extend(["", *whatif_lines(report.whatif, places)])
    return "\n".join(lines) + "\n"


def whatif_lines(whatif: WhatIf, places: int) -> list[str]:
    mix = ", ".join(
        f"{tier} {whatif.tiers_before[tier]}->{whatif.tiers_after[tier]}" for tier in _tiers(whatif)
    )
    return [
        f"what-if under {whatif.policy_source} (thresholds hard {whatif.thresholds['hard']}, "
        f"reasoning {whatif.thresholds['reasoning']}):",
        f"  logged spend {money(whatif.actual, places)} -> {money(whatif.projected, places)} "
        f"({pct(whatif.change_pct)} change)",
        f"  {whatif.rerouted} requests re-decided from their stored scores, {whatif.moved} moved to another "
        f"model, {whatif.kept} kept at their logged cost",
        f"  tier mix: {mix}",
    ]


def _tiers(whatif: WhatIf) -> list[str]:
    return sorted(set(whatif.tiers_before) | set(whatif.tiers_after))


def _group_dict(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "requests": group.requests,
        "ok": group.ok,
        "errors": group.errors,
        "cache_hits": group.cache_hits,
        "cost_estimated": group.estimated,
        "prompt_tokens": group.prompt_tokens,
        "completion_tokens": group.completion_tokens,
        "spend_usd": exact(group.actual),
        "baseline_usd": exact(group.baseline),
        "saved_usd": exact(group.saved),
        "saved_pct": None if group.saved_pct is None else f"{group.saved_pct:.2f}",
        "cache_saved_usd": exact(group.cache_saved),
        "latency_p50_ms": group.p50_ms,
        "latency_p95_ms": group.p95_ms,
        "quality": group.quality,
        "quality_n": group.quality_n,
    }


def report_dict(report: Report) -> dict[str, Any]:
    price = report.baseline_price
    data: dict[str, Any] = {
        "period": {
            "since": report.since.isoformat() if report.since else None,
            "first": report.first.isoformat() if report.first else None,
            "last": report.last.isoformat() if report.last else None,
        },
        "baseline": {
            "model": report.baseline_model,
            "input_per_mtok": exact(price.input_per_mtok),
            "output_per_mtok": exact(price.output_per_mtok),
            "cached_input_per_mtok": None
            if price.cached_input_per_mtok is None
            else exact(price.cached_input_per_mtok),
            "reasoning_per_mtok": None
            if price.reasoning_per_mtok is None
            else exact(price.reasoning_per_mtok),
            "output_method": report.method,
            "output_method_text": report.method_text,
        },
        "group_by": report.group_by,
        "total": _group_dict(report.total),
        "groups": [_group_dict(g) for g in report.groups],
        "quality": {"source": report.quality_source, "note": report.quality_note},
    }
    if isinstance(report.whatif, WhatIf):
        w = report.whatif
        data["whatif"] = {
            "policy": w.policy_source,
            "thresholds": w.thresholds,
            "spend_usd": exact(w.actual),
            "projected_usd": exact(w.projected),
            "change_usd": exact(w.change),
            "change_pct": None if w.change_pct is None else f"{w.change_pct:.2f}",
            "rerouted": w.rerouted,
            "moved": w.moved,
            "kept": w.kept,
            "tiers_before": dict(w.tiers_before),
            "tiers_after": dict(w.tiers_after),
            "models_after": dict(w.models_after),
        }
    return data


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


CSV_FIELDS = (
    "group_by",
    "name",
    "requests",
    "ok",
    "errors",
    "cache_hits",
    "cost_estimated",
    "prompt_tokens",
    "completion_tokens",
    "spend_usd",
    "baseline_usd",
    "saved_usd",
    "saved_pct",
    "cache_saved_usd",
    "latency_p50_ms",
    "latency_p95_ms",
    "quality",
    "quality_n",
    "baseline_model",
    "baseline_output_method",
)


def render_csv(report: Report) -> str:
    """One line per group and a `total` line; the baseline and its output-length method ride on every
    line, so a spreadsheet never loses them."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    method = f"{report.method}: {report.method_text}"
    for group, group_by in [*((g, report.group_by) for g in report.groups), (report.total, "total")]:
        row = _group_dict(group)
        row.update(group_by=group_by, baseline_model=report.baseline_model, baseline_output_method=method)
        writer.writerow(row)
    return out.getvalue()
