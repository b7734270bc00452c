"""A report's chart (hub.reports.model.Chart) as inline SVG for the page.

Drawn here rather than by reportlab's SVG renderer because that one writes
`style` attributes, which the portal's Content-Security-Policy refuses; these
bars use presentation attributes and the stylesheet's classes. The numbers are
also in the report's table, so the picture only repeats them.
"""

from __future__ import annotations

from datetime import date
from html import escape

from hub.portal.words import chart_empty, chart_summary
from hub.reports.model import Chart

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 54
LABELS_MAX = 31  # more bars than this: every n-th label


def bar_chart_svg(chart: Chart) -> str:
    values = list(chart.values)
    n = len(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step_value = _nice_step(max(values, default=0))
    top = max(step_value, -(-max(values, default=0) // step_value) * step_value)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(_summary(chart))}">',
        f'<text class="chart-axis-title" x="4" y="10">{escape(chart.value_title)}</text>',
    ]
    for tick in range(0, top + 1, step_value):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 3:.1f}" text-anchor="end">{tick}</text>')
    if n:
        slot = plot_w / n
        bar_w = max(1.0, slot * 0.7)
        every = -(-n // LABELS_MAX)
        for i, (label, value) in enumerate(zip(chart.labels, values, strict=False)):
            h = plot_h * value / top
            x = LEFT + i * slot + (slot - bar_w) / 2
            parts.append(
                f'<rect class="chart-bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(_label(label))}: {value}</title></rect>"
            )
            if n <= LABELS_MAX and value:
                parts.append(
                    f'<text class="chart-value" x="{x + bar_w / 2:.1f}" y="{TOP + plot_h - h - 3:.1f}" '
                    f'text-anchor="middle">{value}</text>'
                )
            if i % every == 0:
                cx, cy = x + bar_w / 2, TOP + plot_h + 12
                parts.append(
                    f'<text class="chart-label" x="{cx:.1f}" y="{cy:.1f}" text-anchor="end" '
                    f'transform="rotate(-45 {cx:.1f} {cy:.1f})">'
                    f"{escape(_label(label))}</text>"
                )
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></svg>'
    )
    return "".join(parts)


def _summary(chart: Chart) -> str:
    if not chart.values:
        return chart_empty(chart.title)
    return chart_summary(chart.title, chart.values)


def _label(label: str) -> str:
    try:
        return date.fromisoformat(label).strftime("%d.%m")
    except ValueError:
        return label


def _nice_step(top: int) -> int:
    """A round step giving at most about 5 grid lines."""
    step = 1
    while top / step > 5:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if top / step <= 5:
                break
    return step
