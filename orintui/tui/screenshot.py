"""``orintui screenshot``: the replay screen at a moment of a session, as SVG."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

from orintui.core.sanitize import clean_line
from orintui.session.model import Session

if TYPE_CHECKING:
    from orintui.tui.screens.monitor import MonitorScreen


async def _render(session: Session, size: tuple[int, int], at: float | None, theme: str | None, pane: str) -> str:
    from orintui.tui.app import make_app

    app = make_app(replay=session, at=-1 if at is None else at, theme=theme or "orintui-dark", paused=True)
    async with app.run_test(size=size) as pilot:
        screen = cast("MonitorScreen", app.screen)
        screen.action_show(pane)
        screen.redraw(force=True)
        await pilot.pause()
        screen.tick()
        await pilot.pause()
        return app.export_screenshot(title=f"orintui: {clean_line(session.title)}")


def screenshot_svg(session: Session, size: tuple[int, int] = (120, 40), at: float | None = None,
                   theme: str | None = None, pane: str = "table") -> str:
    return asyncio.run(_render(session, size, at, theme, pane))


def render_screenshot(session: Session, out: str, size: tuple[int, int] = (120, 40), at: float | None = None,
                      theme: str | None = None, pane: str = "table") -> Path:
    svg = screenshot_svg(session, size, at, theme, pane)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    return path
