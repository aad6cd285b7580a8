"""Charts as SVG pictures, drawn on the server: bars per bucket, one colour per series.

Hand-written SVG keeps the console free of a plotting library and of any script or CDN: the
page shows the chart as an <img> from its own origin, which the console's CSP allows. Every
label is XML-escaped (an area's or agent's name is text someone typed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 900, 320
# Room for the axis labels: left for values, bottom for bucket labels, top for the legend.
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 34, 70
GRID_LINES = 4
# At most this many bucket labels are written under the bars (every n-th otherwise).
MAX_LABELS = 24


@dataclass(frozen=True)
class Series:
    """One set of bars: its name in the legend, a value per bucket (None: not known), a colour."""

    name: str
    values: Sequence[float | None]
    colour: str


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = ""
) -> str:
    """An SVG document: grouped bars per label, value axis from 0, legend and title."""
    top_value = _nice_top(max((v for s in series for v in s.values if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.8 / max(len(series), 1), 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)} '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    for step in range(GRID_LINES + 1):
        value = top_value * step / GRID_LINES
        y = TOP + plot_h - plot_h * step / GRID_LINES
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_number(value) + unit)}</text>"
        )
    for index, s in enumerate(series):
        for position, value in enumerate(s.values):
            if not value:
                continue
            height = plot_h * value / top_value
            x = LEFT + slot * position + slot * 0.1 + bar_w * index
            y = TOP + plot_h - height
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{height:.1f}" fill="{s.colour}">'
                f"<title>{escape(f'{labels[position]} · {s.name}: {_number(value)}{unit}')}</title>"
                "</rect>"
            )
    every = max(-(-len(labels) // MAX_LABELS), 1)
    for position, label in enumerate(labels):
        if position % every:
            continue
        x = LEFT + slot * (position + 0.5)
        y = TOP + plot_h + 12
        parts.append(
            f'<text x="{x:.1f}" y="{y}" text-anchor="end" '
            f'transform="rotate(-45 {x:.1f} {y})">{escape(label)}</text>'
        )
    for index, s in enumerate(series):
        x = LEFT + index * 160
        parts.append(
            f'<rect x="{x}" y="10" width="12" height="12" fill="{s.colour}"/>'
            f'<text x="{x + 16}" y="20">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _nice_top(value: float) -> float:
    """The axis' top: the value rounded up to 1, 2 or 5 times a power of ten (1 when empty)."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    """A value as an axis or tooltip shows it: whole when whole, else to a tenth."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
