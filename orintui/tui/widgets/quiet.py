"""Updates that cost nothing when nothing changed: every update of a Static means a repaint."""

from __future__ import annotations

from textual.widgets import Sparkline, Static


def set_text(widget: Static, renderable) -> None:
    """For widgets whose size is fixed by the stylesheet (one line, a set width): no re-layout."""
    if getattr(widget, "_orintui_last", None) != renderable:
        widget._orintui_last = renderable
        widget.update(renderable, layout=False)


def set_data(spark: Sparkline, data: list[float]) -> None:
    if spark.data != data:
        spark.data = data
