"""The replay screen: the live screen's widgets fed by the replay clock."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding

from orintui.session.model import Session
from orintui.session.replay import ReplayClock
from orintui.tui.keys import grouped
from orintui.tui.owner import orintui_app
from orintui.tui.screens.monitor import MonitorScreen
from orintui.tui.widgets.position_bar import PositionBar

SEEK_S = 10.0
SPEED, SEEK, RUN = grouped("Speed"), grouped("Seek"), grouped("Runs")


class ReplayScreen(MonitorScreen):
    BINDINGS = [
        Binding("space", "pause", "Pause"),
        Binding("plus,equals_sign", "faster", "Faster", **SPEED),
        Binding("minus", "slower", "Slower", **SPEED),
        # priority: the lanes' scroll view, focused when it overflows, binds these keys too
        Binding("left", "seek(-1)", "Back 10s", priority=True, **SEEK),
        Binding("right", "seek(1)", "Fwd 10s", priority=True, **SEEK),
        Binding("n", "jump(1)", "Next run", **RUN),
        Binding("p", "jump(-1)", "Prev run", **RUN),
        Binding("home", "seek_to(0)", "Start", show=False, priority=True),
        Binding("end", "seek_to(-1)", "End", show=False, priority=True),
        Binding("q,escape", "leave", "Back"),
    ]

    def __init__(self, session: Session, speed: float = 1.0, at: float | None = None, paused: bool = False, **kwargs: Any):
        super().__init__(session, **kwargs)
        self.recorded = session
        self.clock = ReplayClock(session, speed)
        self.clock.paused = paused
        self._last = time.monotonic()
        if at is not None:
            self._seek(at if at >= 0 else self.clock.duration)

    def report_session(self) -> Session:
        return self.recorded  # the whole session, wherever the replay is

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield PositionBar(id="position")

    def tick(self) -> None:
        now = time.monotonic()
        for event in self.clock.advance(now - self._last):
            self.state.apply(event)
        self._last = now
        self.redraw()
        self.query_one(PositionBar).show(self.clock)

    def title_text(self) -> Text:
        text = super().title_text()
        text.append("  REPLAY", style="bold")
        return text

    def _seek(self, target: float) -> None:
        from orintui.live_state import LiveState

        self.state = LiveState(self.state.session)
        for event in self.clock.seek(target):
            self.state.apply(event)
        self._last = time.monotonic()
        self._drawn = -1

    def action_pause(self) -> None:
        self.clock.paused = not self.clock.paused
        self._last = time.monotonic()

    def action_faster(self) -> None:
        self.clock.faster()

    def action_slower(self) -> None:
        self.clock.slower()

    def action_seek(self, direction: int) -> None:
        self._seek(self.clock.position + direction * SEEK_S)
        self.redraw(force=True)

    def action_seek_to(self, where: float) -> None:
        self._seek(self.clock.duration if where < 0 else where)
        self.redraw(force=True)

    def action_jump(self, direction: int) -> None:
        starts = sorted(t for t in (self.clock.run_start(r.index) for r in self.state.session.runs) if t is not None)
        pos = self.clock.position
        ahead = [t for t in starts if t > pos + 0.01] if direction > 0 else [t for t in starts if t < pos - 0.5]
        if ahead:
            self._seek(ahead[0] if direction > 0 else ahead[-1])
            self.redraw(force=True)

    def action_leave(self) -> None:
        orintui_app(self).exit_or_back(self)
