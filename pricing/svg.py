"""Small inline-SVG charts for the HTML report: no script, no external asset, just markup."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#64748b")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    color: str
    points: Sequence[tuple[float, float]]  # (x, y), x ascending
    dashed: bool = False


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10.0 * magnitude


def _text(
    x: float, y: float, content: str, anchor: str = "start", size: int = 11, fill: str = "#475569"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(content)}</text>"
    )


def line_chart(
    series: Sequence[Series],
    y_format: Callable[[float], str],
    x_format: Callable[[float], str],
    width: int = 640,
    height: int = 260,
) -> str:
    left, right, top, bottom = 78, 16, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not xs:
        return _empty(width, height)
    x_min, x_max = min(xs), max(xs)
    x_span = (x_max - x_min) or 1.0
    y_max = _nice_max(max(ys))

    def px(x: float) -> float:
        return left + (x - x_min) / x_span * plot_w

    def py(y: float) -> float:
        return top + plot_h - y / y_max * plot_h

    parts = [_open(width, height)]
    for i in range(5):
        value = y_max * i / 4
        y = py(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        parts.append(_text(left - 6, y + 4, y_format(value), "end"))
    parts.append(_text(px(x_min), height - 10, x_format(x_min), "start"))
    if x_max > x_min:
        parts.append(_text(px(x_max), height - 10, x_format(x_max), "end"))
    for s in series:
        if len(s.points) == 1:
            x, y = s.points[0]
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{s.color}"/>')
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2.2"{dash}/>')
    legend_x = left
    for s in series:
        parts.append(f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{s.color}" rx="2"/>')
        parts.append(_text(legend_x + 16, 18, s.label))
        legend_x += 24 + 7 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float, str]], color: str = PALETTE[0], width: int = 640, bar_h: int = 22
) -> str:
    """Horizontal bars: (label, value, value text), in the order given."""
    if not items:
        return _empty(width, 80)
    label_w, gap, right = 170, 6, 190
    height = len(items) * (bar_h + gap) + gap
    top_value = max(value for _, value, _ in items) or 1.0
    parts = [_open(width, height)]
    for i, (label, value, shown) in enumerate(items):
        y = gap + i * (bar_h + gap)
        length = max(value / top_value * (width - label_w - right), 1.0 if value else 0.0)
        parts.append(_text(label_w - 8, y + bar_h * 0.7, label[:26], "end", 12, "#1e293b"))
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{color}" rx="3"/>'
        )
        parts.append(_text(label_w + length + 6, y + bar_h * 0.7, shown, "start", 12))
    parts.append("</svg>")
    return "".join(parts)


def donut(items: Sequence[tuple[str, float]], width: int = 320, height: int = 220) -> str:
    """Shares of a whole, with a legend: (label, value)."""
    total = sum(value for _, value in items)
    if total <= 0:
        return _empty(width, height)
    cx, cy, radius, stroke = 100, height / 2, 70, 34
    circumference = 2 * math.pi * radius
    parts = [_open(width, height)]
    offset = 0.0
    for i, (label, value) in enumerate(items):
        share = value / total
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="{color}" stroke-width="{stroke}" '
            f'stroke-dasharray="{share * circumference:.2f} {circumference:.2f}" '
            f'stroke-dashoffset="{-offset * circumference:.2f}" transform="rotate(-90 {cx} {cy})"/>'
        )
        offset += share
        y = 40 + i * 22
        parts.append(f'<rect x="196" y="{y - 10}" width="12" height="12" fill="{color}" rx="2"/>')
        parts.append(_text(214, y, f"{label} {share * 100:.0f}%", "start", 12, "#1e293b"))
    parts.append(_text(cx, cy + 5, f"{total:.0f}", "middle", 18, "#0f172a"))
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int) -> str:
    return (
        # Scales to its panel; the viewBox keeps the proportions.
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px" font-family="system-ui, sans-serif">'
    )


def _empty(width: int, height: int) -> str:
    return _open(width, height) + _text(width / 2, height / 2, "no data", "middle") + "</svg>"
