"""The app a screen belongs to, typed: Textual types ``self.app`` as a plain ``App``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from orintui.tui.app import OrintuiApp


def orintui_app(node: DOMNode) -> OrintuiApp:
    return cast("OrintuiApp", node.app)
