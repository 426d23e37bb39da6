"""Footer groups: related keys share one label ("1 2 3 Tabs"), so every key fits at 80 columns.

Older Textual has no Binding.Group; there the keys are shown one by one."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding


def grouped(description: str) -> dict[str, Any]:
    group = getattr(Binding, "Group", None)
    return {"group": group(description, compact=True)} if group else {}
