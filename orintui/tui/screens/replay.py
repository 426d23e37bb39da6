"""The replay screen: the live screen's widgets fed by the replay clock."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.worker import get_current_worker

from orintui.live_state import LiveState
from orintui.session.model import Session
from orintui.session.replay import ReplayClock
from orintui.tui.keyframes import Keyframes
from orintui.tui.keys import grouped
from orintui.tui.messages import GoBack
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

    def __init__(self, session: Session, clock: ReplayClock | None = None, speed: float = 1.0, at: float | None = None,
                 paused: bool = False, **kwargs: Any):
        super().__init__(session, **kwargs)
        self.recorded = session
        self.clock = clock if clock is not None else ReplayClock(session, speed)  # a loader builds it in its worker
        self.clock.paused = paused
        self.keyframes = Keyframes(self.recorded, self.clock.events)
        self.seeking = 0  # the number of the seek a worker is folding; 0: none
        self._seeks = 0
        self._last = time.monotonic()
        if at is not None:  # before the first frame (orintui replay --at, screenshots): folded here, once
            self._move_clock(at if at >= 0 else self.clock.duration)
            for event in self.clock.events[:self.clock.index]:
                self.state.apply(event)

    def on_mount(self) -> None:
        super().on_mount()
        # once the first frame is out: the build holds the GIL for a while on a long session
        self.call_after_refresh(self.build_keyframes)

    @work(thread=True, exclusive=True, group="keyframes")
    def build_keyframes(self) -> None:
        worker = get_current_worker()
        self.keyframes.build(lambda: worker.is_cancelled)

    def on_unmount(self) -> None:
        self.workers.cancel_all()  # a long replay's keyframes stop being built once nobody looks

    def report_session(self) -> Session:
        return self.recorded  # the whole session, wherever the replay is

    def findings_note(self) -> str:
        return " for the whole recorded session"

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield PositionBar(id="position")

    def tick(self) -> None:
        now = time.monotonic()
        if not self.seeking:  # while a seek is folded in a worker, the clock waits for it
            for event in self.clock.advance(now - self._last):
                self.state.apply(event)
        self._last = now
        self.redraw()
        self.query_one(PositionBar).show(self.clock)

    def title_text(self) -> Text:
        text = super().title_text()
        text.append("  REPLAY", style="bold")
        return text

    def _move_clock(self, target: float) -> None:
        clock = self.clock
        clock.position = max(0.0, min(clock.duration, target))
        clock.index = bisect.bisect_right(clock.times, clock.position)

    def _seek(self, target: float) -> None:
        """Move the clock now (the position bar follows at once); the state at the new position is
        folded from the nearest keyframe in a worker, which posts it back."""
        self._move_clock(target)
        self._seeks += 1
        self.seeking = self._seeks
        self.fold_to(self.seeking, self.clock.index)

    @work(thread=True, exclusive=True, group="seek")
    def fold_to(self, seek: int, index: int) -> None:
        worker = get_current_worker()
        state = self.keyframes.state_at(index, lambda: worker.is_cancelled)
        if state is not None:
            self.post_message(self.Folded(seek, state))

    @dataclass
    class Folded(Message):
        """The state at a seek's target, folded in a worker."""

        seek: int
        state: LiveState

    def on_replay_screen_folded(self, message: Folded) -> None:
        if message.seek != self.seeking:
            return  # a later seek is on its way
        self.state = message.state
        self.seeking = 0
        self._last = time.monotonic()
        self.redraw(force=True)

    def action_pause(self) -> None:
        self.clock.paused = not self.clock.paused
        self._last = time.monotonic()

    def action_faster(self) -> None:
        self.clock.faster()

    def action_slower(self) -> None:
        self.clock.slower()

    def action_seek(self, direction: int) -> None:
        self._seek(self.clock.position + direction * SEEK_S)

    def action_seek_to(self, where: float) -> None:
        self._seek(self.clock.duration if where < 0 else where)

    def action_jump(self, direction: int) -> None:
        starts = sorted(t for t in (self.clock.run_start(r.index) for r in self.state.session.runs) if t is not None)
        pos = self.clock.position
        ahead = [t for t in starts if t > pos + 0.01] if direction > 0 else [t for t in starts if t < pos - 0.5]
        if ahead:
            self._seek(ahead[0] if direction > 0 else ahead[-1])

    def action_leave(self) -> None:
        self.post_message(GoBack(self))
