"""A sparkline that draws what Textual's Sparkline draws, at a fraction of the cost.

Textual's widget renders through a Rich renderable: buckets cut with Fractions, a colour blended and a
Style built per cell, then the console's render and line splitting. A telemetry gauge redraws with
every sample, so that was the app's costliest render (1.3 ms a gauge). Here the one line is built
directly as a Strip from the same buckets and colours (tests/test_tui_spark.py holds it to Textual's
output, cell for cell); other heights and ASCII mode go Textual's way."""

from __future__ import annotations

from collections.abc import Sequence

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.renderables._blend_colors import blend_colors
from textual.strip import Strip
from textual.widgets import Sparkline

from orintui.tui.glyphs import ascii_mode, ascii_spark

BARS = "▁▂▃▄▅▆▇█"


def bucket_summaries(data: Sequence[float], width: int) -> list[float]:
    """The largest value of each of ``width`` even shares of ``data`` (empty shares left out), as
    Textual's Sparkline cuts them: share b is data[n*b//width : n*(b+1)//width]."""
    n = len(data)
    out = []
    for b in range(width):
        start, end = n * b // width, n * (b + 1) // width
        if end > start:
            out.append(max(data[start:end]))
    return out


_styles: dict[tuple, Style] = {}  # (base, colour) -> the cell's style: a gauge's cells take a few hundred colours


def _cell_style(base: Style, low: Color, high: Color, ratio: float) -> Style:
    """``base`` with the colour Textual's blend_colors gives ``ratio`` of the way from ``low`` to ``high``."""
    if low.triplet is None or high.triplet is None:
        key: tuple = (base, blend_colors(low, high, ratio))
    else:
        (r1, g1, b1), (r2, g2, b2) = low.triplet, high.triplet
        # Color.from_rgb truncates each channel to an int: the same cut here, before any Color is built
        key = (base, int(r1 + (r2 - r1) * ratio), int(g1 + (g2 - g1) * ratio), int(b1 + (b2 - b1) * ratio))
    style = _styles.get(key)
    if style is None:
        if len(_styles) > 4096:
            _styles.clear()
        color = key[1] if len(key) == 2 else Color.from_rgb(*key[1:])
        style = _styles[key] = base + Style.from_color(color)
    return style


def spark_segments(data: Sequence[float], width: int, low: Color, high: Color, base: Style) -> list[Segment]:
    """One line of ``width`` cells: Textual's Sparkline at height 1 (bar, colour blended from ``low``
    to ``high`` by the share's height), each cell's style on top of ``base``."""
    if not data:
        return [Segment("▁" * width, base + Style.from_color(low))]
    if len(data) == 1:
        return [Segment("█" * width, base + Style.from_color(high))]
    minimum, maximum = min(data), max(data)
    extent = maximum - minimum or 1
    buckets = bucket_summaries(data, width)
    step = len(buckets) / width
    top = len(BARS) - 1
    out = []
    index = 0.0
    for _ in range(width):
        ratio = (buckets[int(index)] - minimum) / extent
        out.append(Segment(BARS[int(ratio * top)], _cell_style(base, low, high, ratio)))
        index += step
    return out


class Spark(Sparkline):
    """Textual's sparkline, drawn directly when one line high; its ASCII form in ASCII mode."""

    def render(self) -> RenderResult:
        if not ascii_mode():
            return super().render()
        return Text(ascii_spark(list(self.data or []), self.size.width), no_wrap=True, overflow="crop")

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if height != 1 or ascii_mode() or self.summary_function is not max:
            return super().render_line(y)
        # the colours Sparkline.render takes: the component classes' over the widget's background
        _, background = self.background_colors
        low = (background + self.get_component_styles("sparkline--min-color").color).rich_color
        high = (background + self.get_component_styles("sparkline--max-color").color).rich_color
        segments = spark_segments(list(self.data or []), width, low, high, self.visual_style.rich_style)
        return Strip(segments, width)
