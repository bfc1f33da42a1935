"""Core: the dashboard's charts as inline SVG drawn from plain figures (web/desk_pages.py), with no script and no
library: a line of daily values and horizontal bars. Every label is escaped; each data point is an element with
its value in `data-value`, so that a reader (and the browser test) finds the figures in the picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, ROW, LEFT = 640, 22, 190  # pixels: the picture's width, one bar's row, the labels' column


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    label: str  # a day, a consultant, a level
    value: float
    text: str = ""  # how the value is written beside it ("" = the number)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def line(points: Sequence[Point], *, title: str, height: int = 160) -> str:
    """Daily values as a polyline with a dot per day, the highest value written on the axis."""
    if not points:
        return ""
    top = max(max(p.value for p in points), 1.0)
    step = (WIDTH - 60) / max(len(points) - 1, 1)
    xy = [(40 + i * step, height - 20 - (p.value / top) * (height - 40)) for i, p in enumerate(points)]
    dots = "".join(
        f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" data-label="{escape(p.label)}" '
        f'data-value="{_number(p.value)}"><title>{escape(p.label)}: {escape(p.text or _number(p.value))}</title>'
        "</circle>" for (x, y), p in zip(xy, points, strict=True))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<line x1="40" y1="{height - 20}" x2="{WIDTH - 20}" y2="{height - 20}" stroke="#999"/>'
            f'<text x="4" y="24" font-size="11">{_number(top)}</text>'
            f'<text x="40" y="{height - 4}" font-size="11">{escape(points[0].label)}</text>'
            f'<text x="{WIDTH - 20}" y="{height - 4}" font-size="11" text-anchor="end">'
            f'{escape(points[-1].label)}</text>'
            f'<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="{path}"/>{dots}</svg>')


def bars(points: Sequence[Point], *, title: str) -> str:
    """One horizontal bar per point, longest = the highest value, the value written at its end."""
    if not points:
        return ""
    top = max(max(p.value for p in points), 1.0)
    height = ROW * len(points) + 8
    rows = []
    for i, p in enumerate(points):
        y, length = 4 + i * ROW, (WIDTH - LEFT - 70) * (p.value / top)
        rows.append(
            f'<text x="{LEFT - 6}" y="{y + 14}" font-size="12" text-anchor="end">{escape(p.label)}</text>'
            f'<rect class="point" x="{LEFT}" y="{y + 2}" width="{max(length, 1):.1f}" height="{ROW - 6}" '
            f'fill="#2b6cb0" data-label="{escape(p.label)}" data-value="{_number(p.value)}"/>'
            f'<text x="{LEFT + length + 6:.1f}" y="{y + 14}" font-size="12">{escape(p.text or _number(p.value))}'
            "</text>")
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')
