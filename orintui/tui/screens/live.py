"""The live screen: a scenario running now. Events come from the recorder's listener (another
thread) into a queue; the 5 Hz tick drains it, so redraws stay batched whatever the rate."""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

from rich.text import Text
from textual import work
from textual.binding import Binding

from orintui.core.sanitize import clean_line
from orintui.figures.metrics import RunMetrics
from orintui.running.engine import Execution
from orintui.session.events import RUN_ENDED, Event
from orintui.tui.messages import GoBack, Notice
from orintui.tui.screens.confirm import ConfirmScreen
from orintui.tui.screens.monitor import MonitorScreen


class FinalFigures(NamedTuple):
    run: int
    figures: RunMetrics


class LiveScreen(MonitorScreen):
    # the engine keeps the session's one per-token record: a second one here grew the app by about
    # 20 bytes a token (36 MB an hour at 500 tok/s); an ended run's figures are the engine's
    KEEPS_RECORD = False
    BINDINGS = [
        Binding("s", "skip", "Skip run"),
        Binding("x", "stop", "Stop all"),
        Binding("w", "save", "Save now"),
        Binding("q,escape", "leave", "Quit"),
    ]

    def __init__(self, execution: Execution, autostart: bool = True, **kwargs: Any):
        super().__init__(execution.session, **kwargs)
        self.execution = execution
        self.autostart = autostart
        self.inbox: deque = deque()
        execution.recorder.subscribe(self.inbox.append)  # deque.append is thread-safe
        execution.recorder.subscribe(self._final_figures)
        self._announced = False

    def _final_figures(self, event: Event) -> None:
        """On the recorder's thread, right after the engine's accumulator took a run's end: its final
        figures (the ones headless prints) follow the event into the inbox, so the UI loop never
        computes them."""
        if event["kind"] == RUN_ENDED:
            run = event["run"]
            self.inbox.append(FinalFigures(run, self.execution.figures.metrics(run)))

    def on_mount(self) -> None:
        super().on_mount()
        if self.autostart:
            self.execution.start()

    def tick(self) -> None:
        while self.inbox:
            item = self.inbox.popleft()
            if isinstance(item, FinalFigures):  # right behind the run's end in the inbox
                acc = self.state.figures.runs[item.run]
                acc.adopt_final(item.figures, acc.version)
            else:
                self.state.apply(item)
        if self.autostart and self.execution.done.is_set() and not self._announced:
            self._announced = True
            if self.execution.measured is not None:  # the session's end: with samples after each run's
                for m in self.execution.measured[1]:
                    acc = self.state.figures.runs[m.run]
                    acc.adopt_final(m, acc.version)
            recorder = self.execution.recorder
            if recorder.saved and recorder.final_path.is_file():
                self.notify(clean_line(f"session saved: {recorder.final_path}"), timeout=8, markup=False)
            else:
                self.notify(clean_line(f"session NOT saved: {recorder.save_error}; the record is in "
                                       f"{recorder.journal_path}"), severity="error", timeout=30, markup=False)
        self.redraw()

    def draw_key(self) -> tuple:
        # the last event may come before the session is saved: 'finished' must still be drawn
        return (self.state.version, self.execution.done.is_set())

    def title_key(self) -> object:
        done = self.execution.done.is_set()
        return (super().title_key(), done, done and self.execution.recorder.saved)

    def title_text(self) -> Text:
        text = super().title_text()
        recorder = self.execution.recorder
        if not self.execution.done.is_set():
            text.append("  LIVE", style="bold red")
        elif not (recorder.saved and recorder.final_path.is_file()):
            text.append("  finished, NOT SAVED", style="bold red")
        else:
            text.append("  finished", style="bold red")
        return text

    def report_session(self):
        # the recording goes on in another thread; the journal is the record: read it back
        return self.execution.recorder.snapshot()

    def kept_lines(self, run: int) -> list[str]:
        # the journal's read-back (report_session) leaves output lines out: the live state keeps the last ones
        return [line for r, line in self.state.output if r == run]

    def action_skip(self) -> None:
        self.execution.skip_current()
        self.notify("skipping the current run")

    def action_stop(self) -> None:
        self.execution.stop()
        self.notify("stopping: the current run is ended, the rest are not started")

    @work(thread=True, exclusive=True, group="save")
    def action_save(self) -> None:
        # through the recorder (its lock, its error handling): a full disk is a message, not a crash;
        # in a worker: a long session takes a while to write, and the recorder's lock is held meanwhile
        recorder = self.execution.recorder
        path, error = recorder.save_now()
        if path is None:
            self.post_message(Notice(clean_line(f"NOT saved: {error}; the record is in {recorder.journal_path}"), error=True))
        else:
            self.post_message(Notice(clean_line(f"saved so far: {path}")))

    def action_leave(self) -> None:
        if self.execution.done.is_set():
            self.post_message(GoBack(self))
            return

        def answer(stop: bool | None) -> None:
            if stop:
                self.post_message(GoBack(self, stop_reason="orintui is quitting"))  # the app stops it off the loop

        self.app.push_screen(ConfirmScreen("A run is live. Stop it, save the session and leave?"), answer)
