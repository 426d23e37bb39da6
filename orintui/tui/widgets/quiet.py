"""Updates that cost nothing when nothing changed: every update of a Static means a repaint."""

from __future__ import annotations

from typing import Any

from textual.widgets import Sparkline, Static


def set_text(widget: Static, renderable: Any) -> None:
    """For widgets whose size is fixed by the stylesheet (one line, a set width): no re-layout."""
    if getattr(widget, "_orintui_last", None) != renderable:
        setattr(widget, "_orintui_last", renderable)  # noqa: B010 (an attribute Static does not declare)
        widget.update(renderable, layout=False)


def set_data(spark: Sparkline, data: list[float]) -> None:
    if spark.data != data:
        spark.data = data
