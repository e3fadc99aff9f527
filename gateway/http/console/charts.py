"""Charts drawn on the server as SVG: no JavaScript, nothing fetched, and the page's
Content-Security-Policy needs no exception (colours are SVG presentation attributes, not
style attributes).

Pure functions from numbers to markup. Every label is escaped here, since the caller marks
the result safe for the template. Each chart names itself with <title> and <desc> for
screen readers; the page also gives the numbers as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
BAR_CHART_HEIGHT = 240
ROW_HEIGHT = 26  # one horizontal bar and its gap
LEFT = 44  # room for the value axis' labels
LABEL_WIDTH = 220  # room for a horizontal bar's label
TOP = 12
BOTTOM = 28  # room for the category labels
FONT_SIZE = 11
_NICE_STEPS = (1, 2, 3, 4, 5, 6, 8)
# Value-axis divisions by the top's leading digit: whole, evenly spaced ticks.
_DIVISIONS = {1: 2, 2: 4, 3: 3, 4: 4, 5: 5, 6: 3, 8: 4}
LEGEND_HEIGHT = 18
LEGEND_SWATCH = 12
LEGEND_CHAR_WIDTH = 7  # roughly, at FONT_SIZE: room for each name


@dataclass(frozen=True)
class Series:
    """One stacked layer: a name for the legend, a colour, a value per category."""

    name: str
    colour: str  # an SVG paint, e.g. "#2e7d32"
    values: Sequence[int]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, ... at least `value`: an axis top
    people read at a glance, never much above the tallest bar. Empty data still gets an
    axis (1)."""
    magnitude = 1
    while True:
        for step in _NICE_STEPS:
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def ticks(top: int) -> list[int]:
    """Whole-number tick values from 0 to `top` (a nice_ceiling value), evenly spaced: 10
    is marked 0, 5, 10; 30 by tens; 80 by twenties."""
    leading = top // 10 ** (len(str(top)) - 1)
    step = max(1, top // _DIVISIONS.get(leading, 4))
    marks = list(range(0, top + 1, step))
    return marks if marks[-1] == top else [*marks, top]


def _svg(chart_id: str, title: str, description: str, height: int, body: list[str]) -> str:
    cid = escape(chart_id)
    return "\n".join([
        f'<svg class="chart" id="{cid}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" '
        f'font-size="{FONT_SIZE}" '
        f'aria-labelledby="{cid}-title {cid}-desc">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
        *body,
        "</svg>",
    ])  # fmt: skip


def _empty_note(x: float, y: float, text: str) -> str:
    return f'<text class="chart-empty" x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{escape(text)}</text>'


def stacked_bars(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label_every: int = 1,
    empty: str = "Nothing in this period",
) -> str:
    """Vertical bars, one per label, each stacked from the series in order (first at the
    bottom). `label_every`: write every n-th category label, so 24 hours stay legible."""
    for layer in series:
        if len(layer.values) != len(labels):
            raise ValueError(f"series {layer.name!r} has {len(layer.values)} values for {len(labels)} labels")
    height = BAR_CHART_HEIGHT
    plot_w, plot_h = WIDTH - LEFT - 8, height - TOP - BOTTOM
    totals = [sum(layer.values[i] for layer in series) for i in range(len(labels))]
    top = nice_ceiling(max(totals, default=0))
    body = _value_axis(top, plot_w, plot_h)
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1.0)
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        for layer in series:
            value = layer.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            body.append(
                f'<rect class="chart-bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{escape(layer.colour)}">'
                f"<title>{escape(label)} {escape(layer.name)}: {value}</title></rect>"
            )
        if i % label_every == 0:
            body.append(
                f'<text class="chart-label" x="{x + bar_w / 2:.1f}" y="{height - 10}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if not any(totals):
        body.append(_empty_note(LEFT + plot_w / 2, TOP + plot_h / 2, empty))
    return _svg(chart_id, title, description, height, body)


def _value_axis(top: int, plot_w: float, plot_h: float) -> list[str]:
    lines = []
    for tick in ticks(top):
        y = TOP + plot_h - plot_h * tick / top
        lines.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{LEFT + plot_w:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d0d0" stroke-width="1"/>'
        )
        lines.append(
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    return lines


def horizontal_bars(
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[tuple[str, int]],
    colour: str,
    *,
    empty: str = "Nothing in this period",
) -> str:
    """One labelled horizontal bar per (label, value), in the order given, its value
    written at its end."""
    height = TOP + ROW_HEIGHT * max(len(bars), 1) + 8
    plot_w = WIDTH - LABEL_WIDTH - 60  # room for the value after the longest bar
    top = nice_ceiling(max((value for _, value in bars), default=0))
    body: list[str] = []
    for i, (label, value) in enumerate(bars):
        y = TOP + i * ROW_HEIGHT
        w = plot_w * max(value, 0) / top
        body.append(
            f'<text class="chart-label" x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        body.append(
            f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="{y + 2}" width="{w:.1f}" '
            f'height="{ROW_HEIGHT - 8}" '
            f'fill="{escape(colour)}"><title>{escape(label)}: {value}</title></rect>'
        )
        body.append(f'<text class="chart-value" x="{LABEL_WIDTH + w + 6:.1f}" y="{y + 15}">{value}</text>')
    if not bars:
        body.append(_empty_note(WIDTH / 2, TOP + ROW_HEIGHT / 2 + 4, empty))
    return _svg(chart_id, title, description, height, body)


def legend(series: Sequence[Series]) -> str:
    """The series' names in a row, each after a swatch of its colour. Hidden from screen
    readers: the chart's description names the series and the table gives the numbers."""
    items, x = [], 0
    for layer in series:
        items.append(
            f'<rect x="{x}" y="3" width="{LEGEND_SWATCH}" height="{LEGEND_SWATCH}" '
            f'fill="{escape(layer.colour)}"/>'
            f'<text x="{x + LEGEND_SWATCH + 4}" y="{LEGEND_SWATCH + 1}">{escape(layer.name)}</text>'
        )
        x += LEGEND_SWATCH + 4 + LEGEND_CHAR_WIDTH * len(layer.name) + 16
    return (
        f'<svg class="chart-legend" xmlns="http://www.w3.org/2000/svg" width="{max(x, 1)}" '
        f'height="{LEGEND_HEIGHT}" font-family="sans-serif" font-size="{FONT_SIZE}" aria-hidden="true" '
        f'focusable="false">{"".join(items)}</svg>'
    )
