"""The replay screen: the live screen's widgets fed by the replay clock.

Opened on a session file (orintui replay, the menu), it shows its first frame from the header alone
(the session's start: lanes queued, nothing folded) and decodes, checks and sorts the events in a
worker; the clock starts once they are in, then the seek keyframes are built in another worker."""

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

from orintui.reading.live_state import LiveState
from orintui.session.model import Session
from orintui.session.replay import ReplayClock
from orintui.session.store import SessionError, SessionFile
from orintui.tui.keyframes import Keyframes
from orintui.tui.keys import grouped
from orintui.tui.messages import GoBack, ReplayRefused
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

    def __init__(self, session: Session | SessionFile, speed: float = 1.0, at: float | None = None,
                 paused: bool = False, **kwargs: Any):
        # a SessionFile: its header now, its events from a worker once the first frame is out
        self.source = session if isinstance(session, SessionFile) else None
        recorded = session.header if isinstance(session, SessionFile) else session
        super().__init__(recorded, **kwargs)
        self.recorded = recorded
        self.clock = ReplayClock(recorded if self.source is None else Session(recorded.id, recorded.started_at), speed)
        self.clock.paused = paused
        self.clock.loading = self.source is not None
        self.keyframes = Keyframes(self.recorded, self.clock.events)
        self.seeking = 0  # the number of the seek a worker is folding; 0: none
        self._seeks = 0
        self._at = at
        self._last = time.monotonic()
        if at is not None and self.source is None:  # before the first frame (--at, screenshots): folded here, once
            self._move_clock(at if at >= 0 else self.clock.duration)
            for event in self.clock.events[:self.clock.index]:
                self.state.apply(event)

    def on_mount(self) -> None:
        super().on_mount()
        # once the first frame is out: decoding the events, and building keyframes, hold the GIL for a while
        self.call_after_refresh(self.load_events if self.clock.loading else self.build_keyframes)

    @work(thread=True, exclusive=True, group="load")
    def load_events(self) -> None:
        if self.source is None:
            return
        try:
            session = self.source.load()
        except SessionError as exc:
            self.post_message(ReplayRefused(self, exc))
            return
        self.post_message(self.Loaded(ReplayClock(session, self.clock.speed)))  # the clock sorts the events

    @dataclass
    class Loaded(Message):
        """The session's events, decoded, checked and sorted in a worker."""

        clock: ReplayClock

    def on_replay_screen_loaded(self, message: Loaded) -> None:
        clock, old = message.clock, self.clock
        clock.speed, clock.paused = old.speed, old.paused  # what the keys set while it loaded
        self.clock, self._last = clock, time.monotonic()
        self.keyframes = Keyframes(self.recorded, clock.events)
        if self._at is not None:
            self._seek(self._at if self._at >= 0 else clock.duration)
        self.tick()  # playing from now: not at the next tick
        self.build_keyframes()

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
        self.position_bar = PositionBar(id="position")  # kept: shown every tick
        yield self.position_bar

    def tick(self) -> None:
        now = time.monotonic()
        if not self.seeking:  # while a seek is folded in a worker, the clock waits for it
            for event in self.clock.advance(now - self._last):
                self.state.apply(event)
        self._last = now
        self.redraw()
        self.position_bar.show(self.clock)

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
        if self.clock.loading:
            return  # no events yet: the clock starts at 0 once they are in
        self._move_clock(target)
        self._seeks += 1
        self.seeking = self._seeks
        self.fold_to(self.seeking, self.clock.index)

    @work(thread=True, exclusive=True, group="seek")
    def fold_to(self, seek: int, index: int) -> None:
        worker = get_current_worker()
        state = self.keyframes.state_at(index, lambda: worker.is_cancelled)
        if state is not None and not worker.is_cancelled:
            self.post_message(self.Folded(seek, self.keyframes.figured(state)))  # the figures too, off the UI loop

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

    def action_report(self) -> None:
        if self.clock.loading:
            self.notify("the session is still loading", timeout=3)
        else:
            super().action_report()

    def action_pareto(self) -> None:
        if self.clock.loading:
            self.notify("the session is still loading", timeout=3)
        else:
            super().action_pareto()

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
