"""Line charts as inline SVG text, written by hand: no JavaScript, no fonts or files fetched, and
the same numbers give the same bytes (the HTML report and the share card are snapshot-tested).

Every text from a session goes through ``esc``: a label such as ``</svg><script>`` stays text.
Series differ by dash pattern as well as colour, so they read in grey print and to colour-blind eyes."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from orintui.core.sanitize import clean_line

PALETTE = ("#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f")
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "12 2", "2 6", "6 2 2 2")
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"


def esc(text: object) -> str:
    """Text from a session, safe inside SVG or HTML text and attribute values."""
    return html.escape(clean_line(str(text)), quote=True)


def num(value: float) -> str:
    """A coordinate with two decimals and no '-0.00': stable bytes across platforms."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


@dataclass
class Series:
    name: str
    points: Sequence[tuple[float, float]]


@dataclass
class Band:
    """A shaded stretch of the x axis with a name (a run's span on the power chart)."""
    start: float
    end: float
    name: str


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    log_y: bool = False
    bands: list[Band] = field(default_factory=list)
    width: int = 760
    height: int = 320


def label_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9 * step:  # the last tick at or above the highest value: nothing drawn off the plot
        ticks.append(first + len(ticks) * step)
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    for exp in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** exp
            if low <= v <= high:
                ticks.append(v)
    return ticks or [low, high]


def render(chart: Chart) -> str:
    """The chart as an <svg> element (standalone or inline in HTML)."""
    w, h = chart.width, chart.height
    left, right, top, bottom = 64, 16, 34, 46
    legend_rows = math.ceil(len(chart.series) / 3) if chart.series else 0
    plot_h = h - top - bottom - legend_rows * 18
    plot_w = w - left - right
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'font-family="{FONT}" font-size="12" role="img" aria-label="{esc(chart.title)}">',
           f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">{esc(chart.title)}</text>']
    points = [p for s in chart.series for p in s.points if math.isfinite(p[0]) and math.isfinite(p[1])]
    if chart.log_y:
        points = [p for p in points if p[1] > 0]
    if not points:
        out.append(f'<text x="{left}" y="{top + plot_h / 2:.0f}" fill="#555555">no data</text></svg>')
        return "".join(out)
    xs = [p[0] for p in points] + [b.start for b in chart.bands] + [b.end for b in chart.bands]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    if x1 <= x0:
        x1 = x0 + 1.0
    if chart.log_y:
        y0, y1 = min(ys) / 1.2, max(ys) * 1.2
        ticks = log_ticks(y0, y1)
        y0, y1 = min(y0, ticks[0]), max(y1, ticks[-1])

        def ty(v: float) -> float:
            return top + plot_h - (math.log10(v) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * plot_h
    else:
        ticks = linear_ticks(min(0.0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 1.0)
        y0, y1 = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1.0

        def ty(v: float) -> float:
            return top + plot_h - (v - y0) / (y1 - y0) * plot_h

    def tx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * plot_w

    for i, band in enumerate(chart.bands):
        width = max(1.0, tx(band.end) - tx(band.start))
        out.append(f'<rect x="{num(tx(band.start))}" y="{top}" width="{num(width)}" '
                   f'height="{plot_h}" fill="{"#eef2f6" if i % 2 == 0 else "#f6f3ee"}"/>')
        fits = int((width - 4) // 6)  # about 6 px a character at 10 px: a name never runs into the next band
        if fits >= 3:
            out.append(f'<text x="{num(tx(band.start) + 3)}" y="{top + 12 + (i % 2) * 12}" font-size="10" fill="#555555">'
                       f'{esc(band.name[:fits])}</text>')
    for v in ticks:
        y = ty(v)
        out.append(f'<line x1="{left}" y1="{num(y)}" x2="{left + plot_w}" y2="{num(y)}" stroke="#dddddd"/>')
        out.append(f'<text x="{left - 6}" y="{num(y + 4)}" text-anchor="end">{label_number(v)}</text>')
    for v in linear_ticks(x0, x1):
        if x0 <= v <= x1 + 1e-9:
            out.append(f'<text x="{num(tx(v))}" y="{top + plot_h + 16}" text-anchor="middle">{label_number(v)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888888"/>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 32}" text-anchor="middle">{esc(chart.x_label)}</text>')
    out.append(f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">'
               f'{esc(chart.y_label)}</text>')
    for i, s in enumerate(chart.series):
        pts = [p for p in s.points if math.isfinite(p[0]) and math.isfinite(p[1]) and (p[1] > 0 or not chart.log_y)]
        colour, dash = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]
        style = f' stroke-dasharray="{dash}"' if dash else ""
        if pts:
            path = " ".join(f"{num(tx(x))},{num(ty(y))}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"{style}/>')
        lx = left + (i % 3) * (plot_w / 3)
        ly = top + plot_h + 46 + (i // 3) * 18
        out.append(f'<line x1="{num(lx)}" y1="{ly - 4}" x2="{num(lx + 28)}" y2="{ly - 4}" stroke="{colour}" '
                   f'stroke-width="2"{style}/>')
        out.append(f'<text x="{num(lx + 34)}" y="{ly}">{esc(s.name[:40])}</text>')
    out.append("</svg>")
    return "".join(out)
