"""ASCII mode: the Linux console's fonts (TERM=linux, a serial or a KVM console) lack the eighth blocks
of sparklines and the braille of charts, which then show as boxes. `orintui --ascii`, or TERM=linux,
draws both with plain ASCII instead."""

from __future__ import annotations

import os

from textual.scrollbar import ScrollBarRender

RAMP = " .:-=+*#"  # low to high, one cell per bucket
MARKERS = ("*", "+", "o", "x", "#", "@", "%", "&")  # one per chart series: distinct without colour


def ascii_mode() -> bool:
    return os.environ.get("ORINTUI_ASCII") == "1" or os.environ.get("TERM") == "linux"


def ascii_spark(data: list[float], width: int) -> str:
    """One character per column: the largest value of each column's share of the data, on an 8-step ramp."""
    if not data or width <= 0:
        return ""
    step = len(data) / width if len(data) > width else 1.0
    buckets = [max(data[int(i * step):max(int(i * step) + 1, int((i + 1) * step))])
               for i in range(min(width, len(data)))]
    low, high = min(buckets), max(buckets)
    span = (high - low) or 1.0
    return "".join(RAMP[1 + round((v - low) / span * (len(RAMP) - 2))] for v in buckets)


def fit(text: str, width: int) -> str:
    """A label in ``width`` cells, abbreviated from the middle (format.abbreviate); '~' where console
    fonts lack the ellipsis."""
    from orintui.core.format import abbreviate

    return abbreviate(text, width, "~" if ascii_mode() else "…")


class _WholeCellBars(ScrollBarRender):
    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


class ScrollBars(ScrollBarRender):
    """Textual's scrollbars, whose thumb ends are eighth blocks; in ASCII mode whole cells of colour."""

    @classmethod
    def render_bar(cls, *args, **kwargs):
        if ascii_mode():
            return _WholeCellBars.render_bar(*args, **kwargs)
        return super().render_bar(*args, **kwargs)
