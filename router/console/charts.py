"""Hand-written inline SVG charts (no chart library, nothing fetched at run time).

Presentation attributes only (no `style=`), so the console's CSP needs no
'unsafe-inline'.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.console.layout import e

COLOURS = ("#2563eb", "#9ca3af", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777")


def _axis(value: float) -> str:
    return f"{value:,.2f}" if value >= 10 else f"{value:.6f}".rstrip("0")


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 640,
    height: int = 220,
    unit: str = "$",
) -> str:
    """One polyline per series over shared x labels (e.g. days)."""
    if not labels:
        return '<p class="empty">No data in this period.</p>'
    pad_l, pad_r, pad_t, pad_b = 70, 30, 12, 28
    top = max((max(values, default=0.0) for _, values in series), default=0.0) or 1.0
    span_x = max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return pad_l + (width - pad_l - pad_r) * (i / span_x if len(labels) > 1 else 0.5)

    def y(v: float) -> float:
        return pad_t + (height - pad_t - pad_b) * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="line chart">',
        f'<line x1="{pad_l}" y1="{y(0):.1f}" x2="{width - pad_r}" y2="{y(0):.1f}" stroke="#ccc"/>',
        f'<text x="{pad_l - 4}" y="{y(top) + 4:.1f}" text-anchor="end" font-size="10">{e(unit)}{_axis(top)}</text>',
        f'<text x="{pad_l - 4}" y="{y(0):.1f}" text-anchor="end" font-size="10">{e(unit)}0</text>',
    ]
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" font-size="10">{e(labels[i])}</text>'
        )
    for n, (name, values) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(values):
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{e(name)} {e(labels[i])}: '
                f"{e(unit)}{v:,.4f}</title></circle>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><svg width="10" height="10"><rect width="10" height="10" '
        f'fill="{COLOURS[n % len(COLOURS)]}"/></svg> {e(name)}</span>'
        for n, (name, _) in enumerate(series)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def bars(items: Sequence[tuple[str, float, str]], *, width: int = 420) -> str:
    """Horizontal bars: (label, value, shown text)."""
    if not items:
        return '<p class="empty">No data in this period.</p>'
    top = max(value for _, value, _ in items) or 1.0
    row_h, label_w = 22, 150
    height = row_h * len(items)
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-label="bar chart">']
    for i, (label, value, shown) in enumerate(items):
        y = i * row_h
        length = (width - label_w - 90) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" '
            f'fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15}" font-size="12">{e(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
